/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Layout of the detectors' private map (ew_det_scr): data-path working
 * memory, never pinned nor read by user space. BPF only; included by maps.h
 * so the map can be declared there, used by tcpsig.h.
 */
#ifndef EW_DETECT_SCRATCH_H
#define EW_DETECT_SCRATCH_H

/* State of the SYN option walk, one option per bpf_loop step. */
struct ew_optwalk {
	__u8 buf[64];
	__u32 pos;
	__u32 len;
	__u32 quirks;
	__u32 ts1;
	__u16 mss;
	__u8 wscale;
	__u8 ocnt;
	__u8 eol_pad;
	__u8 layout[EW_TCP_OPT_MAX];
};

#endif
