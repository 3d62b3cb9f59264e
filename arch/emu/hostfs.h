/*
 * hostfs's part of the machine's boot and shutdown (machine.c calls these):
 * the root directory and the disks of the configuration.
 */
#ifndef KMM_ARCH_EMU_HOSTFS_H
#define KMM_ARCH_EMU_HOSTFS_H

#include <kmm/emu.h>

/* Opens the root, checks the disks. 0, or -errno with a reason in err. */
int hostfs_boot(const struct emu_config *cfg, char *err, size_t errlen);
/* Closes every host file still open. */
void hostfs_shutdown(void);

#endif
