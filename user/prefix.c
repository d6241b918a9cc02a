// SPDX-License-Identifier: BSD-2-Clause
/* Prefix parsing and normalisation: IPv4, IPv6, IPv4-mapped IPv6. */
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int ew_prefix_parse(const char *s, struct ew_prefix *p, bool *cleared, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	size_t alen;
	unsigned int max, bits;
	bool mapped = false;

	memset(p, 0, sizeof(*p));
	*cleared = false;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= INET6_ADDRSTRLEN) {
		snprintf(err, errlen, "'%s' is not an IP address or prefix", s);
		return -1;
	}
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = 4;
		max = 32;
	} else if (strchr(buf, '%')) {
		snprintf(err, errlen, "'%s': zone ids are not allowed in prefixes", s);
		return -1;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = 6;
		max = 128;
		mapped = !memcmp(p->addr, v4mapped, 12);
	} else {
		snprintf(err, errlen, "'%s' is not an IP address or prefix", s);
		return -1;
	}
	if (slash) {
		char *end;
		unsigned long l;

		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || l > max || slash[1] == '-' || slash[1] == '+') {
			snprintf(err, errlen, "'%s': prefix length must be 0..%u", s, max);
			return -1;
		}
		p->len = l;
	} else {
		p->len = max;
	}
	if (mapped) {
		if (p->len < 96) {
			snprintf(err, errlen, "'%s': IPv4-mapped prefix shorter than /96", s);
			return -1;
		}
		memmove(p->addr, p->addr + 12, 4);
		memset(p->addr + 4, 0, 12);
		p->family = 4;
		p->len -= 96;
		max = 32;
	}
	for (bits = 0; bits < max; bits++) {
		unsigned int byte = bits / 8, bit = 7 - bits % 8;

		if (bits < p->len || !(p->addr[byte] & (1u << bit)))
			continue;
		p->addr[byte] &= ~(1u << bit);
		*cleared = true;
	}
	return 0;
}

void ew_prefix_fmt(const struct ew_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

void *ew_pfx_key(const struct ew_prefix *p, struct ew_pfx4_key *k4, struct ew_pfx6_key *k6)
{
	if (p->family == 4) {
		k4->prefixlen = p->len;
		memcpy(&k4->addr, p->addr, 4);
		return k4;
	}
	k6->prefixlen = p->len;
	memcpy(k6->addr, p->addr, 16);
	return k6;
}

int ew_block_spec_parse(const char *s, struct ew_prefix *p, int *action, bool *cleared, char *err,
			size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *eq = strchr(s, '=');
	size_t n = eq ? (size_t)(eq - s) : strlen(s);

	*action = EW_A_DROP;
	if (eq) {
		*action = ew_action_parse(eq + 1);
		if (*action < 0) {
			snprintf(err, errlen, "'%s': action must be drop, flag or allow, not '%s'", s, eq + 1);
			return -1;
		}
	}
	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "'%s' is not an IP address or prefix", s);
		return -1;
	}
	memcpy(buf, s, n);
	buf[n] = 0;
	return ew_prefix_parse(buf, p, cleared, err, errlen);
}

int ew_pfx_put(int fd4, int fd6, const struct ew_prefix *p, int action, const char *label)
{
	struct ew_pfx4_key k4;
	struct ew_pfx6_key k6;
	struct ew_pfx_val v = { .action = action }, old;
	void *key = ew_pfx_key(p, &k4, &k6);
	int fd = p->family == 4 ? fd4 : fd6;

	if (bpf_map_lookup_elem(fd, key, &old) == 0)
		v.hits = old.hits;
	snprintf(v.label, sizeof(v.label), "%s", label ? label : "");
	return bpf_map_update_elem(fd, key, &v, BPF_ANY);
}
