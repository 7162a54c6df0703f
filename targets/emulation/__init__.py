"""What only emulated targets need: an arm64 userland built without emulation, chroot into it, binfmt registration
for qemu-user, and the fake ARM cpuinfo that keeps runtimes from reading the x86 host's."""
