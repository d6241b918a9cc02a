/* SPDX-License-Identifier: BSD-2-Clause */
/* Internal interfaces of the edgeward command: shared by user/ and the tests. */
#ifndef EDGEWARD_USER_H
#define EDGEWARD_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <getopt.h>
#include <netinet/in.h>
#include <json-c/json.h>
#include "edgeward/abi.h"

#define EW_DEFAULT_PIN_DIR "/sys/fs/bpf/edgeward"

/* Options every command accepts. */
struct ew_global {
	const char *pin_dir;
	bool json;
	bool pretty;
	const char *cmd; /* name of the running command, for messages */
};
extern struct ew_global ew_g;

/* --- output.c: messages and JSON ---------------------------------------- */
void ew_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ew_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a JSON value on stdout (pretty with -p) and free it. */
void ew_json_print(json_object *o);
const char *ew_reason_name(unsigned int r);
const char *ew_action_name(unsigned int a);
int ew_action_parse(const char *s); /* drop|flag|allow -> EW_A_*, -1 if bad */
const char *ew_hook_name(unsigned int h);
void ew_fmt_addr(char *buf, size_t len, const uint8_t addr[16], int family);

/* --- options: common long options and a per-command usage ---------------- */
#define EW_COMMON_LONGOPTS                                   \
	{ "json", no_argument, NULL, 'j' },                  \
	{ "pretty", no_argument, NULL, 'p' },                \
	{ "pin-dir", required_argument, NULL, 'P' },         \
	{ "help", no_argument, NULL, 'h' }
#define EW_COMMON_SHORTOPTS "jphP:"
/*
 * Handle a common option. Returns 1 if handled, 0 if not common, and for -h
 * prints usage and exits 0.
 */
int ew_common_opt(int c, const char *usage);
void ew_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- caps.c ---------------------------------------------------------------- */
enum ew_need { EW_NEED_BPF = 1, EW_NEED_NET = 2, EW_NEED_SYS = 4 };
/* Returns 0, or prints which capability is missing and returns -1. */
int ew_require_caps(unsigned int need);

/* --- prefix.c -------------------------------------------------------------- */
struct ew_prefix {
	int family; /* 4 or 6 */
	uint8_t addr[16]; /* v4 in the first 4 bytes, network order */
	unsigned int len;
};
/*
 * Parse "ADDR[/LEN]". A bare address is a host prefix. Host bits are cleared
 * and reported in *cleared. IPv4-mapped IPv6 (::ffff:a.b.c.d/len>=96) becomes
 * IPv4. Returns 0 or -1 with a reason in err.
 */
int ew_prefix_parse(const char *s, struct ew_prefix *p, bool *cleared, char *err, size_t errlen);
void ew_prefix_fmt(const struct ew_prefix *p, char *buf, size_t len);

/* --- pin.c: the pin directory and pinned maps ----------------------------- */
/* Mount bpffs if the pin dir's filesystem is not one, create the pin dir. */
int ew_pin_dir_prepare(void);
bool ew_pins_exist(void);
/* Open a pinned map by name; prints a clear error and returns -1 on failure. */
int ew_map_open(const char *name);
/* Check the ABI version of existing pins: 0 ok or absent, -1 refused. */
int ew_abi_check(void);
/* Bump ew_config.gen so flows re-decide under the new rules. */
int ew_rules_changed(void);
/* Remove every pin edgeward creates and the pin dir. */
int ew_pins_remove(void);
extern const char *const ew_pinned_maps[];
/* Number of keys in a map (keys up to 64 bytes). */
long ew_map_count(int fd);

/* --- attach.c ---------------------------------------------------------------- */
struct ew_attach_opts {
	int xdp_mode; /* 1 native, 2 generic */
	bool monitor;
	uint32_t flows_max; /* 0: default or that of the existing pins */
};
int ew_attach(const char *ifname, const struct ew_attach_opts *o);
int ew_detach(const char *ifname);

/* --- flows.c: reading the flow table ------------------------------------------ */
struct ew_flow_row {
	struct ew_flow_key key;
	struct ew_flow val; /* summed over CPUs */
};
/* Read the whole table into *rows (malloc'd). Returns the count or -1. */
long ew_flows_read(int fd, struct ew_flow_row **rows);
/* Sum per-CPU copies of one flow. */
void ew_flow_sum(struct ew_flow *out, const void *percpu, int ncpus, size_t stride);

/* --- commands ---------------------------------------------------------------- */
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_block(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_flows(int argc, char **argv);

#endif
