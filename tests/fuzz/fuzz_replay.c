// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target: the capture path of `edgeward replay` (user/replay.c):
 * libpcap reading pcap/pcapng, the link-type check, and every packet turned
 * into the Ethernet frame the data path is given.
 */
#include "fuzz/memfile.h" /* first: it defines _GNU_SOURCE */
#include <pcap/pcap.h>
#include "edgeward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[EW_REPLAY_FRAME_MAX];
	char errbuf[PCAP_ERRBUF_SIZE];
	const char *path = fuzz_memfile(data, size);
	struct pcap_pkthdr *h;
	const u_char *pkt;
	uint32_t len;
	pcap_t *pc;
	int dlt;

	ew_replay_scan(path);
	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc)
		return 0;
	dlt = pcap_datalink(pc);
	if (ew_replay_linktype_ok(dlt))
		while (pcap_next_ex(pc, &h, &pkt) == 1)
			if (ew_replay_to_ethernet(dlt, pkt, h->caplen, frame, &len) == 0 && len > sizeof(frame))
				abort();
	pcap_close(pc);
	return 0;
}
