// SPDX-License-Identifier: BSD-2-Clause
/* Messages, names of ABI enums, common options and JSON printing. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "edgeward.h"

struct ew_global ew_g = { .pin_dir = EW_DEFAULT_PIN_DIR };

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	fprintf(stderr, "edgeward%s%s: %s", ew_g.cmd ? " " : "", ew_g.cmd ? ew_g.cmd : "", kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ew_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error: ", fmt, ap);
	va_end(ap);
}

void ew_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void ew_json_print(json_object *o)
{
	int flags = ew_g.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;

	puts(json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

json_object *ew_json_strn(const char *s, size_t max)
{
	size_t n = strnlen(s, max), o = 0;
	char buf[4 * 256 + 1];

	if (!n)
		return NULL;
	/* Bytes from the wire (SNI, ALPN): all but printable ASCII as \xNN, so the JSON stays UTF-8. */
	for (size_t i = 0; i < n && o + 4 < sizeof(buf); i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = c;
		else
			o += snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
	}
	return json_object_new_string_len(buf, o);
}

const char *ew_json_field(json_object *o, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

static const char *const reason_names[EW_REASON_MAX] = {
	[EW_R_NONE] = "none",
	[EW_R_NOT_IP] = "not_ip",
	[EW_R_TRUNC_ETH] = "trunc_eth",
	[EW_R_TRUNC_VLAN] = "trunc_vlan",
	[EW_R_VLAN_DEPTH] = "vlan_depth",
	[EW_R_TRUNC_IP4] = "trunc_ip4",
	[EW_R_BAD_IP4] = "bad_ip4",
	[EW_R_TRUNC_IP6] = "trunc_ip6",
	[EW_R_IP6_EXT] = "ip6_ext_chain",
	[EW_R_FRAGMENT] = "fragment",
	[EW_R_TRUNC_L4] = "trunc_l4",
	[EW_R_NO_L4] = "no_ports",
	[EW_R_PREFIX] = "prefix",
	[EW_R_FLOW_FULL] = "flow_table_full",
	[EW_R_UNTRACKED] = "untracked",
	[EW_R_RELAY_RTT] = "relay_rtt",
	[EW_R_TUNNEL_MSS] = "tunnel_mss",
	[EW_R_STACK_MISMATCH] = "stack_mismatch",
	[EW_R_CONN_RATE] = "conn_rate",
	[EW_R_FANOUT] = "fanout",
	[EW_R_FEED] = "feed",
	[EW_R_FP_RULE] = "fp_rule",
	[EW_R_TLS_INCOMPLETE] = "tls_incomplete",
	[EW_R_TLS_MALFORMED] = "tls_malformed",
	[EW_R_TLS_UNSUPPORTED] = "tls_unsupported",
};

const char *ew_reason_name(unsigned int r)
{
	if (r < EW_REASON_MAX && reason_names[r])
		return reason_names[r];
	return "unknown";
}

static const char *const action_names[EW_ACTION_MAX] = {
	[EW_A_PASS] = "pass", [EW_A_FLAG] = "flag", [EW_A_ALLOW] = "allow",
	[EW_A_WOULD_DROP] = "would_drop", [EW_A_DROP] = "drop",
};

const char *ew_action_name(unsigned int a)
{
	return a < EW_ACTION_MAX ? action_names[a] : "unknown";
}

int ew_action_parse(const char *s)
{
	if (!strcmp(s, "drop"))
		return EW_A_DROP;
	if (!strcmp(s, "flag"))
		return EW_A_FLAG;
	if (!strcmp(s, "allow"))
		return EW_A_ALLOW;
	return -1;
}

/* Names of enum ew_evidence bits, by bit number. */
static const char *const evidence_names[] = {
	"fp_rule", "relay_rtt", "tunnel_mss", "stack_mismatch", "conn_rate", "fanout",
};

const char *ew_evidence_name(unsigned int bit)
{
	return bit < sizeof(evidence_names) / sizeof(evidence_names[0]) ? evidence_names[bit] : NULL;
}

int ew_evidence_parse(const char *s)
{
	for (unsigned int i = 0; i < sizeof(evidence_names) / sizeof(evidence_names[0]); i++)
		if (!strcmp(s, evidence_names[i]))
			return i;
	return -1;
}

const char *ew_rule_sub(const char *usage, int argc, char **argv, const char *what)
{
	const char *sub;

	if (optind >= argc)
		ew_usage_error(usage, "add, del or list?");
	sub = argv[optind++];
	if (strcmp(sub, "add") && strcmp(sub, "del") && strcmp(sub, "list"))
		ew_usage_error(usage, "unknown subcommand '%s'", sub);
	if (strcmp(sub, "list") && optind >= argc)
		ew_usage_error(usage, "which %s?", what);
	if (!strcmp(sub, "list") && optind < argc)
		ew_usage_error(usage, "list takes no %s", what);
	return sub;
}

int ew_rule_opt(int c, const char *usage, int *action, const char **label)
{
	if (c == 'a') {
		*action = ew_action_parse(optarg);
		if (*action < 0)
			ew_usage_error(usage, "--action must be drop, flag or allow, not '%s'", optarg);
		return 1;
	}
	if (c == 'l') {
		if (strlen(optarg) >= EW_LABEL_LEN)
			ew_usage_error(usage, "--label '%s' is longer than %d bytes", optarg, EW_LABEL_LEN - 1);
		*label = optarg;
		return 1;
	}
	return 0;
}

const char *ew_hook_name(unsigned int h)
{
	return h == EW_HOOK_XDP ? "xdp" : h == EW_HOOK_TC ? "tc" : "unknown";
}

void ew_fmt_addr(char *buf, size_t len, const uint8_t addr[16], int family)
{
	if (family == 4)
		inet_ntop(AF_INET, addr + 12, buf, len);
	else
		inet_ntop(AF_INET6, addr, buf, len);
}

int ew_common_opt(int c, const char *usage)
{
	switch (c) {
	case 'j':
		ew_g.json = true;
		return 1;
	case 'p':
		ew_g.json = true;
		ew_g.pretty = true;
		return 1;
	case 'P':
		ew_g.pin_dir = optarg;
		return 1;
	case 'h':
		fputs(usage, stdout);
		exit(0);
	}
	return 0;
}

void ew_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	fputs(usage, stderr);
	exit(2);
}
