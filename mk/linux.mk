# mk/linux.mk: the Linux test guest, an unmodified Debian kernel with a
# small initramfs. tools/fetch-deps takes both binaries out of Debian's
# packages into deps/guest (never committed): vmlinuz from the kernel package
# the metapackage linux-image-amd64 depends on, busybox from busybox-static;
# deps/guest/VERSION names the versions.
#
# LINUX_INITRAMFS    $(BUILD)/linux/initramfs.cpio.gz: busybox, /bin/sh a
#                    link to it, /init (tests/guests/linux/init: mounts proc,
#                    sys, dev, tmp, prints "hopvm-linux: init up, N cpus",
#                    a shell on the console, power-off when it exits), the
#                    directories busybox --install needs, and /dev/console
#                    and /dev/null as nodes, so PID 1 has a console before
#                    devtmpfs is mounted. tools/mkinitramfs writes the newc
#                    cpio with Python alone (no cpio binary, no root) and
#                    byte-for-byte the same from the same inputs.
# LINUX_GUEST_FILES  the kernel and the initramfs, for an image to carry.

LINUX_INITRAMFS   := $(BUILD)/linux/initramfs.cpio.gz
LINUX_GUEST_FILES := deps/guest/vmlinuz $(LINUX_INITRAMFS)
LINUX_INITRAMFS_ENTRIES := \
	/init=tests/guests/linux/init:0755 \
	/bin/busybox=deps/guest/busybox:0755 slink:/bin/sh=busybox \
	dir:/sbin dir:/usr/bin dir:/usr/sbin dir:/etc dir:/root:0700 \
	dir:/proc dir:/sys dir:/dev dir:/tmp:1777 \
	nod:/dev/console=c,5,1:0600 nod:/dev/null=c,1,3:0666

$(LINUX_INITRAMFS): tools/mkinitramfs tests/guests/linux/init deps/guest/busybox mk/linux.mk
	@mkdir -p $(dir $@)
	@echo "  INITRD  $@"
	$(Q)$(PYTHON) tools/mkinitramfs $@ $(LINUX_INITRAMFS_ENTRIES)

# The Linux tests' image (tests/system/test_linux.py): hopvm and the Linux
# guest only, so the other tests' image stays small and quick to boot.
$(BUILD)/linux.img: $(BUILD)/hopvm.efi tests/system/hopvm-linux.cfg tools/mkimage $(LINUX_GUEST_FILES)
	tools/mkimage $@ $(BUILD)/hopvm.efi tests/system/hopvm-linux.cfg $(LINUX_GUEST_FILES)
