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
/* A fixed-size NUL-padded string as JSON, null when empty. */
json_object *ew_json_strn(const char *s, size_t max);
/* A member of o as text for tables, "-" when absent or null. */
const char *ew_json_field(json_object *o, const char *name);

const char *ew_reason_name(unsigned int r);
const char *ew_action_name(unsigned int a);
int ew_action_parse(const char *s); /* drop|flag|allow -> EW_A_*, -1 if bad */
const char *ew_hook_name(unsigned int h);
/* Name of enum ew_evidence bit number `bit` (NULL past the last); its inverse, -1 if unknown. */
const char *ew_evidence_name(unsigned int bit);
int ew_evidence_parse(const char *s);

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
/* --action drop|flag|allow ('a') and --label TEXT ('l') of the rule commands: 1 if c was one. */
int ew_rule_opt(int c, const char *usage, int *action, const char **label);
/*
 * The add|del|list subcommand of a rule command at argv[optind] (consumed):
 * add and del need values (`what`, for the message), list takes none.
 */
const char *ew_rule_sub(const char *usage, int argc, char **argv, const char *what);

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
/* The ew_pfx4 or ew_pfx6 key of a prefix (k4 or k6, filled and returned). */
void *ew_pfx_key(const struct ew_prefix *p, struct ew_pfx4_key *k4, struct ew_pfx6_key *k6);
/* "PREFIX[=drop|flag|allow]" (default drop), as --block and block files write it. */
int ew_block_spec_parse(const char *s, struct ew_prefix *p, int *action, bool *cleared, char *err,
			size_t errlen);
/* Add or replace one block-list entry, keeping its hit count. 0 or -1 with errno. */
int ew_pfx_put(int fd4, int fd6, const struct ew_prefix *p, int action, const char *label);

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
/* The same on an open ew_config fd; also sets the ABI version of fresh maps. */
int ew_config_bump(int cfg_fd);
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
int ew_dropmark_rebuild(int dropped_fd, int mark_fd);
int ew_detach(const char *ifname);

/* --- flows.c: reading the flow table ------------------------------------------ */
struct ew_flow_row {
	struct ew_flow_key key;
	struct ew_flow val; /* summed over CPUs */
};
/* Read the whole table into *rows (malloc'd). Returns the count or -1. */
long ew_flows_read(int fd, struct ew_flow_row **rows);
/* Entries in the flow table, by batched reads (get_next_key takes 2.5x longer). */
long ew_flows_count(int fd);
/* Sum per-CPU copies of one flow. */
void ew_flow_sum(struct ew_flow *out, const void *percpu, int ncpus, size_t stride);

/* --- counters.c: every exported counter, one source per map --------------- */
#define EW_LABELS_MAX 3
#define EW_VALUES_MAX 2
enum ew_json_style {
	EW_JSON_ROWS,	    /* array of {labels..., values...} */
	EW_JSON_MAP_LABEL,  /* object: first label -> first value */
	EW_JSON_MAP_VALUES, /* object: value name -> value */
};
/* A kind of row: its JSON key, label and value names, Prometheus metrics. */
struct ew_group {
	const char *json;
	enum ew_json_style style;
	const char *labels[EW_LABELS_MAX];
	const char *values[EW_VALUES_MAX];
	const char *metrics[EW_VALUES_MAX];
	const char *types[EW_VALUES_MAX]; /* "counter" or "gauge" */
	const char *help[EW_VALUES_MAX];
};
struct ew_row {
	const struct ew_group *g;
	char lv[EW_LABELS_MAX][64];
	uint64_t v[EW_VALUES_MAX];
	uint64_t *pc; /* per CPU, [cpu * EW_VALUES_MAX + i]; NULL unless asked */
};
struct ew_counters {
	struct ew_row *rows; /* rows of one group are contiguous */
	size_t n, cap;
	int ncpus;
	bool per_cpu;
	uint64_t flows_created;
};
/* Read every source; -1 (after a message) if one fails. */
int ew_counters_read(struct ew_counters *c, bool per_cpu);
void ew_counters_free(struct ew_counters *c);
json_object *ew_counters_json(const struct ew_counters *c);
void ew_counters_table(const struct ew_counters *c, FILE *f);
void ew_counters_prometheus(const struct ew_counters *c, FILE *f);
/* Reuse a flow count up to this many seconds old (0, the default: count every read). */
extern int ew_counters_flows_max_age_s;

/* --- events.c: the ew_events ring buffer ----------------------------------- */
const char *ew_event_type_name(unsigned int t);
int ew_event_type_parse(const char *s); /* -1 if unknown */
json_object *ew_event_json(const struct ew_event *e);
void ew_event_line(char *buf, size_t len, const struct ew_event *e);
/* ew_evstate summed over CPUs (sent, lost, suppressed); -1 after a message. */
int ew_evstate_read(struct ew_evstate *sum);
typedef int (*ew_event_fn)(void *ctx, const struct ew_event *e);
struct ew_watch;
struct ew_watch *ew_watch_open(ew_event_fn fn, void *ctx);
/* Deliver what is in the ring, waiting up to timeout_ms; events or -errno. */
int ew_watch_poll(struct ew_watch *w, int timeout_ms);
int ew_watch_fd(struct ew_watch *w); /* becomes readable when events arrive */
void ew_watch_close(struct ew_watch *w);

/* --- cmd_flows.c: a flow as JSON (flows, lookup) ----------------------------- */
/* A flow (summed) and its evidence (NULL: none) as `flows -j` prints it. */
json_object *ew_flow_json(const struct ew_flow_row *f, const struct ew_conn *conn);
void ew_flows_print_table(json_object *arr);

/* --- daemon_cfg.c, metrics.c: the daemon's configuration and metrics ---------- */
#define EW_DCFG_IFACES_MAX 64
#define EW_DCFG_FILES_MAX 16
struct ew_dcfg_iface {
	char name[EW_IFNAME_LEN];
	int mode; /* 1 native, 2 generic */
	bool monitor;
};
struct ew_dcfg_block {
	struct ew_prefix p;
	int action;
};
struct ew_dcfg_fp {
	struct ew_fp_key k;
	int action;
};
struct ew_dcfg_feed {
	char name[32];
	char file[1024];
	char format[24], action[24], min_score[24]; /* "" for the default */
};
struct ew_dcfg {
	char path[1024];
	struct ew_dcfg_feed feeds[EW_FEEDS_MAX];
	int nfeeds;
	char policy[EW_EV_MAX][8]; /* per evidence bit: drop, flag, off; "" not configured */
	struct {
		char name[24], value[24];
	} thresholds[16]; /* `policy threshold NAME VALUE` */
	int nthresholds;
	struct ew_dcfg_fp *fps; /* fingerprint rules */
	size_t nfps, cap_fps;
	struct ew_dcfg_iface ifaces[EW_DCFG_IFACES_MAX];
	int nifaces;
	struct ew_dcfg_block *blocks;
	size_t nblocks, cap_blocks;
	char files[EW_DCFG_FILES_MAX][1024]; /* block files, watched with the config */
	int nfiles;
	char metrics[80]; /* listen address as written, "" for none */
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_len;
	char textfile[1024];
	long interval_s;
	bool log_events, detach_on_exit, drop_caps;
};
/* Parse and check FILE; every error is printed as FILE:LINE: reason. 0 or -1. */
int ew_dcfg_parse(const char *path, struct ew_dcfg *c);
void ew_dcfg_free(struct ew_dcfg *c);
typedef void (*ew_metrics_extra_fn)(void *ctx, FILE *f);
struct ew_metrics_srv;
struct ew_metrics_srv *ew_metrics_start(const struct sockaddr *addr, socklen_t len, ew_metrics_extra_fn extra,
					void *ctx);
void ew_metrics_stop(struct ew_metrics_srv *s);
/* Write every metric to FILE.tmp and rename it over FILE (node_exporter textfile). */
int ew_metrics_textfile(const char *path, ew_metrics_extra_fn extra, void *ctx);

/* --- replay.c: the data path over a capture, with private maps ------------- */
#define EW_REPLAY_FRAME_MAX (65535 + 14) /* one frame as given to the data path */
struct ew_replay;
struct ew_replay_flow {
	struct ew_flow_key key;	 /* client -> server */
	uint64_t packets[2];	 /* as captured, by enum ew_dir */
	uint64_t bytes[2];
	bool by_syn;		 /* direction known from a SYN, not guessed */
	bool dropped;		 /* XDP dropped one of its packets */
	uint8_t drop_reason;	 /* enum ew_reason of that drop */
	bool has_flow, has_conn; /* entries found in ew_flows / ew_conns */
	uint8_t verdict, reason; /* enum ew_action, ew_reason: the flow's answer */
	struct ew_flow flow;	 /* summed over CPUs */
	struct ew_conn conn;
};
/*
 * Load the data path with private (unpinned) maps and ew_replay set; flow
 * tables sized for that many packets (-1: the live size).
 */
struct ew_replay *ew_replay_new(bool monitor, long packets);
/* Packets in a capture; -1 after naming the file (and packet) if it cannot be replayed. */
long ew_replay_scan(const char *path);
/* One captured packet of link type dlt as an Ethernet frame in out (EW_REPLAY_FRAME_MAX bytes). */
int ew_replay_to_ethernet(int dlt, const uint8_t *p, uint32_t caplen, uint8_t *out, uint32_t *outlen);
void ew_replay_free(struct ew_replay *r);
/* A private map's fd by name, to load rules before the run; -1 if none. */
int ew_replay_map_fd(struct ew_replay *r, const char *name);
/* Run one Ethernet frame captured at ts_ns. 0, or -1 with errno. */
int ew_replay_frame(struct ew_replay *r, const uint8_t *frame, uint32_t len, uint64_t ts_ns);
bool ew_replay_linktype_ok(int dlt);
/* Run every packet of a pcap/pcapng file; errors name the file and packet. */
int ew_replay_file(struct ew_replay *r, const char *path);
/* The flows in order of first packet, with the maps' answers filled in. */
size_t ew_replay_flows(struct ew_replay *r, struct ew_replay_flow **flows);
void ew_replay_counts(struct ew_replay *r, uint64_t *packets, uint64_t *not_flow, uint64_t *clipped);

/* --- tcpsig.c, detect.c: SYN signatures, OS database, detectors ---------- */
#define EW_P0F_FP "/etc/p0f/p0f.fp" /* Debian's p0f package */
/* raw_sig exactly as p0f prints it ("4:64+0:0:1460:mss*44,7:..."); -1 if no SYN. */
int ew_tcp_raw_sig(const struct ew_tcp_fp *fp, char *buf, size_t len);
/* Database form with the initial TTL ("4:64:0:1460:mss*44,7:..."). */
int ew_tcp_sig_fmt(const struct ew_tcp_sig *s, char *buf, size_t len);
/* Parse an exact signature (either form) for a rule. */
int ew_tcp_sig_parse(const char *text, struct ew_tcp_sig *s, char *err, size_t errlen);
uint8_t ew_os_family_of(const char *p0f_name);
const char *ew_os_family_name(unsigned int f);
int ew_os_family_parse(const char *s);
/* A p0f.fp [tcp:request] database compiled for the kernel. */
struct ew_osdb {
	struct ew_os_sig *sigs;
	struct ew_os_key *keys; /* layout of each signature */
	uint32_t nsigs;
	struct ew_os_label *labels; /* [0] unused */
	uint32_t nlabels;
};
void ew_osdb_init(struct ew_osdb *db);
void ew_osdb_free(struct ew_osdb *db);
/* Append a file's signatures; errors name FILE:LINE. */
int ew_osdb_load(struct ew_osdb *db, const char *path);
int ew_osdb_install(const struct ew_osdb *db, int key_fd, int sig_fd, int label_fd);
int ew_osdb_clear(int key_fd);
/* Compile files into the pinned maps; returns the signature count or -1. */
int ew_osdb_load_files(const char *const *paths, int npaths);
struct ew_tunnel_row {
	unsigned int mtu;
	const char *name;
};
extern const struct ew_tunnel_row ew_tunnels[];
const char *ew_tunnel_name(unsigned int mtu);
int ew_tunnels_install(int fd);
/* The default JA4 -> OS family rows into ew_tlsos (user/detect.c); returns the count or -1. */
int ew_tlsos_defaults_install(int fd);
/* Load "JA4 FAMILY" lines into ew_tlsos; returns the count or -1. */
int ew_tlsos_load(int fd, const char *path);
void ew_detect_cfg_defaults(struct ew_detect_cfg *c);
int ew_detect_cfg_read(struct ew_detect_cfg *c);
int ew_detect_cfg_write(const struct ew_detect_cfg *c);
/* Defaults, tunnel table and p0f database on the first attach. */
int ew_detect_setup(void);
/* The same into a private set of maps (replay). */
int ew_detect_setup_private(int detcfg_fd, int tun_fd, int tlsos_fd, int key_fd, int sig_fd, int label_fd);
/* tcp_sig, os, os_match, tunnel, tcp_rtt_us, tls_rtt_us of a connection (c may be NULL). */
void ew_conn_detect_json(json_object *o, const struct ew_conn *c);
/* tcprule.c: `edgeward fp add|del tcp SIG... | os LABEL...`, and the list rows. */
int ew_tcprule_cmd(const char *sub, const char *kind, int n, char **vals, int action, const char *label);
void ew_tcprule_list_json(json_object *arr);
/* feed_fp.c: the plane of feed-owned fingerprint rules in force (ew_fd_state.fp_active), 0 unknown. */
int ew_fp_plane(void);
/* One row of `edgeward fp list -j`. */
json_object *ew_fp_rule_json(const char *kind, const char *match, const char *value, const struct ew_fp_val *v);

/* --- commands ---------------------------------------------------------------- */
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_block(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_fingerprints(int argc, char **argv);
int cmd_osdb(int argc, char **argv);
int cmd_feed(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_fp(int argc, char **argv);

/* --- ja4.c: ClientHello fingerprints in user space (JA4, JA3) ------------------ */
struct ew_ja4 {
	char ja4[40];
	char ja3[33];
	char sni[65];
	char alpn[16];
	uint16_t versions[8]; /* supported_versions, GREASE removed, 0-terminated */
	size_t ciphers, extensions; /* GREASE removed, not capped */
	char ja4_r[4096];     /* JA4_r: the strings hashed, "a_ciphers_extensions[_sigalgs]" */
	char ja3_r[4096];     /* the JA3 string before MD5 */
};
/*
 * Fingerprint the TLS record at rec (len bytes) holding a ClientHello.
 * Returns EW_TLS_OK, EW_TLS_NONE when it is not a handshake record with a
 * ClientHello, or EW_TLS_MALFORMED when a length overruns its container.
 */
int ew_ja4_compute(const uint8_t *rec, size_t len, struct ew_ja4 *o);
/* JA4.md's two ALPN characters for the first ALPN value (v may be NULL if n is 0). */
void ew_ja4_alpn_chars(const uint8_t *v, size_t n, char out[3]);
/* A JA4 as rules take it: full (36 chars) or a_b (23, *ab set). */
bool ew_ja4_valid(const char *s, bool *ab);
bool ew_ja3_valid(const char *s); /* 32 lowercase hex digits */
void ew_fp_key_make(struct ew_fp_key *k, int kind, const char *val);
/* KIND ("ja4" or "ja3") and VALUE -> an ew_fprules key (JA4 a_b too); -1 with a reason in err. */
int ew_fp_key_parse(const char *kind, const char *val, struct ew_fp_key *k, char *err, size_t errlen);

#endif
