"""Knowledge-distillation methods: logit (KD, DKD), feature (FitNets, AT) and relation (SP) losses."""
