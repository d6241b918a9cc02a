// SPDX-License-Identifier: BSD-2-Clause
/*
 * libedgeward (include/edgeward/lookup.h): one connection's flow entry and
 * evidence from the pinned ew_flows and ew_conns maps, by socket or by
 * addresses. Talks to the kernel with the bpf() system call directly, so a
 * server links nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include "edgeward/lookup.h"

#define EW_DEFAULT_PIN_DIR "/sys/fs/bpf/edgeward"

struct ew_lookup {
	int flows_fd;
	int conns_fd;
	int ncpus;
	size_t stride; /* per-CPU value size, rounded up to 8 */
};

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int obj_get(const char *dir, const char *name)
{
	union bpf_attr attr;
	char path[512];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uintptr_t)path;
	attr.file_flags = BPF_F_RDONLY;
	fd = sys_bpf(BPF_OBJ_GET, &attr);
	return fd < 0 ? -errno : fd;
}

static int map_lookup(int fd, const void *key, void *val)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = (uintptr_t)key;
	attr.value = (uintptr_t)val;
	return sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) ? -errno : 0;
}

/* Possible CPUs, as the kernel sizes per-CPU values: "0-3", "0,2-5"... */
static int possible_cpus(void)
{
	char buf[256], *p = buf;
	int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t len;

	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -EINVAL;
	buf[len] = 0;
	while (*p && *p != '\n') {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			p = end;
		}
		n += b - a + 1;
		if (*p == ',')
			p++;
	}
	return n > 0 ? n : -EINVAL;
}

int ew_lookup_open(struct ew_lookup **hp, const char *pin_dir)
{
	struct ew_lookup *h = calloc(1, sizeof(*h));
	int err;

	*hp = NULL;
	if (!h)
		return -ENOMEM;
	if (!pin_dir)
		pin_dir = getenv("EDGEWARD_PIN_DIR");
	if (!pin_dir)
		pin_dir = EW_DEFAULT_PIN_DIR;
	h->flows_fd = h->conns_fd = -1;
	h->ncpus = possible_cpus();
	h->stride = (sizeof(struct ew_flow) + 7) & ~(size_t)7;
	err = h->ncpus < 0 ? h->ncpus : 0;
	if (!err)
		err = h->flows_fd = obj_get(pin_dir, "ew_flows");
	if (err >= 0)
		err = h->conns_fd = obj_get(pin_dir, "ew_conns");
	if (err < 0) {
		ew_lookup_close(h);
		return err;
	}
	*hp = h;
	return 0;
}

void ew_lookup_close(struct ew_lookup *h)
{
	if (!h)
		return;
	if (h->flows_fd >= 0)
		close(h->flows_fd);
	if (h->conns_fd >= 0)
		close(h->conns_fd);
	free(h);
}

void ew_flow_sum(struct ew_flow *out, const void *percpu, int ncpus, size_t stride)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpus; c++) {
		const struct ew_flow *f = (const void *)((const char *)percpu + c * stride);

		for (int d = 0; d < 2; d++) {
			out->packets[d] += f->packets[d];
			out->bytes[d] += f->bytes[d];
			out->tcp_flags[d] |= f->tcp_flags[d];
		}
		if (f->first_ns && (!out->first_ns || f->first_ns < out->first_ns))
			out->first_ns = f->first_ns;
		if (f->last_ns > out->last_ns)
			out->last_ns = f->last_ns;
		/*
		 * The verdict decided under the newest rules (a CPU that has not
		 * seen the flow since a rule change keeps a stale one); among
		 * CPUs of that generation, the strongest, with its reason.
		 */
		if (f->gen && (!out->gen || f->gen > out->gen ||
			       (f->gen == out->gen && f->verdict > out->verdict))) {
			out->verdict = f->verdict;
			out->reason = f->reason;
			out->gen = f->gen;
		}
	}
}

int ew_lookup_key(struct ew_lookup *h, const struct ew_flow_key *key, struct ew_lookup_result *r)
{
	void *vals = malloc(h->stride * h->ncpus);
	int err;

	memset(r, 0, sizeof(*r));
	r->key = *key;
	if (!vals)
		return -ENOMEM;
	err = map_lookup(h->flows_fd, key, vals);
	if (!err) {
		r->has_flow = 1;
		ew_flow_sum(&r->flow, vals, h->ncpus, h->stride);
	}
	free(vals);
	if (err && err != -ENOENT)
		return err;
	err = map_lookup(h->conns_fd, key, &r->conn);
	if (err && err != -ENOENT)
		return err;
	r->has_conn = !err;
	if (!r->has_flow && !r->has_conn)
		return -ENOENT;
	r->reason = r->flow.reason;
	r->verdict = r->flow.verdict;
	if (r->has_conn) {
		r->evidence = r->conn.reasons;
		if (r->conn.verdict > r->verdict)
			r->verdict = r->conn.verdict;
	}
	return 0;
}

/* IPv4 as IPv4-mapped IPv6, as the data path keys it; mapped IPv6 becomes IPv4. */
static int put_addr(const struct sockaddr *sa, __u8 addr[16], __be16 *port, int *family)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		memcpy(addr, mapped, 12);
		memcpy(addr + 12, &s->sin_addr, 4);
		*port = s->sin_port;
		*family = 4;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;

		memcpy(addr, &s->sin6_addr, 16);
		*port = s->sin6_port;
		*family = memcmp(addr, mapped, 12) ? 6 : 4;
		return 0;
	}
	return -EAFNOSUPPORT;
}

int ew_lookup_make_key(struct ew_flow_key *key, const struct sockaddr *client, const struct sockaddr *server,
		       int proto)
{
	int fc, fs;

	memset(key, 0, sizeof(*key));
	if (put_addr(client, key->saddr, &key->sport, &fc) || put_addr(server, key->daddr, &key->dport, &fs))
		return -EAFNOSUPPORT;
	if (fc != fs)
		return -EAFNOSUPPORT;
	key->family = fc;
	key->proto = proto;
	return 0;
}

int ew_lookup_addr(struct ew_lookup *h, const struct sockaddr *client, const struct sockaddr *server, int proto,
		   struct ew_lookup_result *r)
{
	struct ew_flow_key key;
	int err = ew_lookup_make_key(&key, client, server, proto);

	if (err) {
		memset(r, 0, sizeof(*r));
		return err;
	}
	return ew_lookup_key(h, &key, r);
}

int ew_lookup_fd(struct ew_lookup *h, int sockfd, struct ew_lookup_result *r)
{
	struct sockaddr_storage local, peer;
	socklen_t ll = sizeof(local), pl = sizeof(peer), ol;
	int proto = 0;

	memset(r, 0, sizeof(*r));
	ol = sizeof(proto);
	if (getsockname(sockfd, (struct sockaddr *)&local, &ll) || getpeername(sockfd, (struct sockaddr *)&peer, &pl) ||
	    getsockopt(sockfd, SOL_SOCKET, SO_PROTOCOL, &proto, &ol))
		return -errno;
	return ew_lookup_addr(h, (struct sockaddr *)&peer, (struct sockaddr *)&local, proto, r);
}

const char *ew_lookup_action_name(int a)
{
	static const char *const names[EW_ACTION_MAX] = {
		[EW_A_PASS] = "pass", [EW_A_FLAG] = "flag", [EW_A_ALLOW] = "allow",
		[EW_A_WOULD_DROP] = "would_drop", [EW_A_DROP] = "drop",
	};

	return a >= 0 && a < EW_ACTION_MAX ? names[a] : "unknown";
}
