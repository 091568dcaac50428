#ifndef EDFS_CISAL_SHIM_H
#define EDFS_CISAL_SHIM_H
// ISA-L (apt: libisal-dev): hardware-accelerated CRC for the nodes' keyless block checksums.
#include <isa-l/crc.h>
#include <isa-l/crc64.h>
#endif
