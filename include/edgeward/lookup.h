/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libedgeward: what edgeward's data path learnt about one connection, for
 * the server that accepted it. Link with -ledgeward (static or shared); no
 * other dependency.
 *
 *	struct ew_lookup *h;
 *	struct ew_lookup_result r;
 *
 *	ew_lookup_open(&h, NULL);		// at start-up, while privileged
 *	...
 *	int fd = accept(listen_fd, NULL, NULL);
 *	if (ew_lookup_fd(h, fd, &r) == 0 && r.has_conn)
 *		printf("client ja4=%s verdict=%s\n", r.conn.tls.ja4,
 *		       ew_lookup_action_name(r.verdict));
 *	...
 *	ew_lookup_close(h);
 *
 * The key is the connection as the NIC saw it, client -> server:
 * getpeername() is the client, getsockname() the server. Addresses behind
 * NAT or a local proxy are not what edgeward saw and are not found.
 *
 * Privileges: ew_lookup_open() opens the pinned maps, which needs read
 * access to the pin files and, on kernels before 6.5, CAP_BPF for every
 * lookup; on 6.5 and newer the open map descriptors keep working after the
 * process drops its capabilities.
 *
 * Thread safety: a handle may be shared by threads; lookups only read.
 */
#ifndef EDGEWARD_LOOKUP_H
#define EDGEWARD_LOOKUP_H

#include <stdint.h>
#include <sys/socket.h>
#include "edgeward/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ew_lookup;

struct ew_lookup_result {
	struct ew_flow_key key; /* client -> server, as looked up */
	int has_flow;		/* the flow table has the connection */
	int has_conn;		/* per-connection evidence exists (fingerprints...) */
	struct ew_flow flow;	/* summed over CPUs: packets/bytes each way, first/last seen */
	struct ew_conn conn;	/* fingerprints (conn.tls.ja4...), evidence, timings */
	int verdict;		/* enum ew_action: the stronger of the flow's and the conn's */
	int reason;		/* enum ew_reason behind the flow's verdict */
	uint32_t evidence;	/* enum ew_evidence bits (conn.reasons) */
};

/* Open the pinned maps in pin_dir (NULL: $EDGEWARD_PIN_DIR or /sys/fs/bpf/edgeward). 0 or -errno. */
int ew_lookup_open(struct ew_lookup **h, const char *pin_dir);
void ew_lookup_close(struct ew_lookup *h);

/*
 * Look up the connection of a connected TCP or UDP socket. 0 when the flow or
 * the evidence was found, -ENOENT when edgeward has neither, -errno on error.
 */
int ew_lookup_fd(struct ew_lookup *h, int sockfd, struct ew_lookup_result *r);

/* The same by addresses: client and server are sockaddr_in or sockaddr_in6, proto 6 or 17. */
int ew_lookup_addr(struct ew_lookup *h, const struct sockaddr *client, const struct sockaddr *server,
		   int proto, struct ew_lookup_result *r);

/* The same by flow key (client -> server, IPv4 stored IPv4-mapped). */
int ew_lookup_key(struct ew_lookup *h, const struct ew_flow_key *key, struct ew_lookup_result *r);

/* Fill key from two socket addresses; 0 or -EAFNOSUPPORT. */
int ew_lookup_make_key(struct ew_flow_key *key, const struct sockaddr *client, const struct sockaddr *server,
		       int proto);

/* "pass", "flag", "allow", "would_drop", "drop" (enum ew_action), "unknown" otherwise. */
const char *ew_lookup_action_name(int action);

/* Sum the per-CPU copies of a flow (ncpus values, stride bytes apart). */
void ew_flow_sum(struct ew_flow *out, const void *percpu, int ncpus, size_t stride);

#ifdef __cplusplus
}
#endif

#endif /* EDGEWARD_LOOKUP_H */
