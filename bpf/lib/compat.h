/* SPDX-License-Identifier: BSD-2-Clause */
/* Constants that vmlinux.h lacks (they are #defines in UAPI headers). BPF only. */
#ifndef EW_COMPAT_H
#define EW_COMPAT_H

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

#define NEXTHDR_HOP 0
#define NEXTHDR_TCP 6
#define NEXTHDR_UDP 17
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60

#define EW_IP6_EXT_MAX 6 /* extension headers walked before giving up */

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#endif
