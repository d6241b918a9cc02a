// SPDX-License-Identifier: BSD-2-Clause
/* Capability checks up front, so a command says which capability it lacks. */
#include <sys/capability.h>
#include "edgeward.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(cap_t caps, cap_value_t v)
{
	cap_flag_value_t f = CAP_CLEAR;

	if (cap_get_flag(caps, v, CAP_EFFECTIVE, &f))
		return 0;
	return f == CAP_SET;
}

int ew_require_caps(unsigned int need)
{
	static const struct {
		unsigned int bit;
		cap_value_t cap;
		const char *name;
		const char *why;
	} table[] = {
		{ EW_NEED_BPF, CAP_BPF, "CAP_BPF", "to use BPF maps and programs" },
		{ EW_NEED_NET, CAP_NET_ADMIN, "CAP_NET_ADMIN", "to attach to interfaces" },
		{ EW_NEED_SYS, CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "to mount bpffs" },
	};
	cap_t caps = cap_get_proc();
	int ret = 0;

	if (!caps) {
		ew_err("cannot read process capabilities");
		return -1;
	}
	/* CAP_SYS_ADMIN grants what CAP_BPF does on every kernel. */
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (!(need & table[i].bit) || has_cap(caps, table[i].cap))
			continue;
		if (table[i].cap == CAP_BPF && has_cap(caps, CAP_SYS_ADMIN))
			continue;
		ew_err("missing capability %s (needed %s); run as root or grant it",
		       table[i].name, table[i].why);
		ret = -1;
	}
	cap_free(caps);
	return ret;
}
