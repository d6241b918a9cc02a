// SPDX-License-Identifier: BSD-2-Clause
/*
 * The detectors' data in the kernel: thresholds and policy (ew_detcfg), the
 * tunnel MTU table (ew_tunmtu), the JA4 -> OS family table (ew_tlsos) and the
 * p0f OS signatures (ew_oskey/ew_ossig/ew_oslabel). `edgeward attach` loads
 * the defaults once; `edgeward policy` and `edgeward osdb` change them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "edgeward.h"

/*
 * Link MTUs a SYN's MSS betrays (MTU = MSS + 40 on IPv4, + 60 on IPv6).
 * Sources: p0f 3.09b p0f.fp [mtu] section (DSL, GIF, generic tunnel or VPN,
 * IPSec or GRE, IPIP or SIT, PPTP); RFC 2516 (PPPoE, 1492); wg-quick's
 * default MTU 1420 (1500 - 80 bytes of WireGuard over IPv6); OpenVPN's
 * "mssfix 1450" default (MSS 1392-1410 depending on cipher, MTU 1432-1450).
 * 1500, 576 and 9000 (plain Ethernet, modem, jumbo) are not tunnels.
 */
const struct ew_tunnel_row ew_tunnels[] = {
	{ 1492, "PPPoE (DSL)" },
	{ 1454, "DSL" },
	{ 1452, "DSL" },
	{ 1490, "PPTP" },
	{ 1480, "IPIP or SIT (6in4)" },
	{ 1476, "GRE or IPsec" },
	{ 1450, "OpenVPN or VXLAN" },
	{ 1440, "WireGuard (IPv4 underlay) or OpenVPN" },
	{ 1432, "OpenVPN" },
	{ 1420, "WireGuard" },
	{ 1400, "IPsec or generic VPN" },
	{ 1300, "generic tunnel or VPN" },
	{ 1280, "GIF or IPv6 tunnel" },
	{ 1240, "GIF" },
	{ 0, NULL },
};

const char *ew_tunnel_name(unsigned int mtu)
{
	for (const struct ew_tunnel_row *t = ew_tunnels; t->mtu; t++)
		if (t->mtu == mtu)
			return t->name;
	return NULL;
}

int ew_detect_cfg_read(struct ew_detect_cfg *c)
{
	uint32_t zero = 0;
	int fd = ew_map_open("ew_detcfg");
	int ret;

	if (fd < 0)
		return -1;
	ret = bpf_map_lookup_elem(fd, &zero, c);
	close(fd);
	if (ret) {
		ew_err("reading ew_detcfg: %s", strerror(errno));
		return -1;
	}
	if (!c->set)
		ew_detect_cfg_defaults(c);
	return 0;
}

int ew_detect_cfg_write(const struct ew_detect_cfg *c)
{
	uint32_t zero = 0;
	int fd = ew_map_open("ew_detcfg");
	int ret;

	if (fd < 0)
		return -1;
	ret = bpf_map_update_elem(fd, &zero, c, BPF_ANY);
	close(fd);
	if (ret) {
		ew_err("writing ew_detcfg: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void ew_detect_cfg_defaults(struct ew_detect_cfg *c)
{
	ew_detect_cfg_init(c);
}

int ew_tunnels_install(int fd)
{
	for (const struct ew_tunnel_row *t = ew_tunnels; t->mtu; t++) {
		struct ew_tunnel v = {};
		uint32_t k = t->mtu;

		snprintf(v.name, sizeof(v.name), "%s", t->name);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			ew_err("loading the tunnel table: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * The default JA4 -> OS family table, loaded on first attach (and by replay).
 * Only TLS stacks that exist on one OS family belong here: the browsers and
 * libraries that run everywhere (Chrome, Firefox, curl/OpenSSL, Go, Python)
 * say nothing about the OS and must not be listed. A scraper that imitates
 * Safari's hello (curl-impersonate, say) from a Linux host is what the
 * detector is for. Sources:
 *  - Safari 17+ (Apple's TLS stack, macOS and iOS): FoxIO-LLC/ja4
 *    ja4plus-mapping.csv rows "Safari"; the hello's cipher list (20),
 *    extensions (14) and signature algorithms (0805 listed twice) hash to
 *    these values (tests/lib/hello.h hb_safari(), checked by
 *    build/tests/bpf_tests detect_stack_mismatch_defaults).
 *  - An Apple client in FoxIO-LLC/ja4 pcap/macos_tcp_flags.pcap, whose SYN p0f
 *    labels "Mac OS X" (edgeward replay of that capture).
 *  - Windows' SChannel through WinHTTP and WinINet, TLS 1.2: FoxIO-LLC/ja4
 *    ja4plus-mapping.csv rows "over winhttp" / "over wininet" (Windows 10).
 *    The row "WinINET, Windows 10/11" (t12d190800_d83cc789557e_7af1ed941c26)
 *    is left out: the same file lists that JA4 for Go as well.
 */
static const struct {
	const char *ja4;
	uint8_t family;
} tlsos_defaults[] = {
	{ "t13d2014h2_a09f3c656075_14788d8d241b", EW_OS_MACOS },   /* Safari, SNI */
	{ "t13i2013h2_a09f3c656075_14788d8d241b", EW_OS_MACOS },   /* Safari, no SNI */
	{ "t13d2613h2_2802a3db6c62_845d286b0d67", EW_OS_MACOS },   /* macos_tcp_flags.pcap */
	{ "t12d210800_76e208dd3e22_16bbda4055b2", EW_OS_WINDOWS }, /* WinHTTP, SNI */
	{ "t12i210700_76e208dd3e22_16bbda4055b2", EW_OS_WINDOWS }, /* WinHTTP, no SNI */
	{ "t12d190800_d83cc789557e_16bbda4055b2", EW_OS_WINDOWS }, /* WinINet, SNI */
	{ "t12i190700_d83cc789557e_16bbda4055b2", EW_OS_WINDOWS }, /* WinINet, no SNI */
};

int ew_tlsos_defaults_install(int fd)
{
	for (size_t i = 0; i < sizeof(tlsos_defaults) / sizeof(tlsos_defaults[0]); i++) {
		struct ew_ja4_key k = {};
		struct ew_tls_os v = { .family = tlsos_defaults[i].family };

		memcpy(k.ja4, tlsos_defaults[i].ja4, strlen(tlsos_defaults[i].ja4));
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			ew_err("loading the default JA4 -> OS family table: %s", strerror(errno));
			return -1;
		}
	}
	return (int)(sizeof(tlsos_defaults) / sizeof(tlsos_defaults[0]));
}

/* Parse "JA4 FAMILY" lines; all or nothing. FAMILY none removes the JA4. */
int ew_tlsos_load(int fd, const char *path)
{
	FILE *f = fopen(path, "r");
	struct {
		struct ew_ja4_key k;
		struct ew_tls_os v;
	} *rows = NULL;
	size_t n = 0;
	char line[256];
	unsigned int lineno = 0;
	int ret = -1;

	if (!f) {
		ew_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char ja4[64], fam[32], extra[2];
		int fi, c;

		lineno++;
		c = sscanf(line, "%63s %31s %1s", ja4, fam, extra);
		if (c <= 0 || ja4[0] == '#')
			continue;
		if (c != 2) {
			ew_err("%s:%u: expected 'JA4 FAMILY'", path, lineno);
			goto out;
		}
		if (strlen(ja4) != 36 || ja4[10] != '_' || ja4[23] != '_') {
			ew_err("%s:%u: '%s' is not a JA4 fingerprint", path, lineno, ja4);
			goto out;
		}
		fi = strcmp(fam, "none") ? ew_os_family_parse(fam) : EW_OS_UNKNOWN;
		if (fi < 0) {
			ew_err("%s:%u: unknown OS family '%s' (windows, linux, macos, bsd, other, none)", path,
			       lineno, fam);
			goto out;
		}
		rows = realloc(rows, (n + 1) * sizeof(*rows));
		memset(&rows[n], 0, sizeof(rows[n]));
		memcpy(rows[n].k.ja4, ja4, 36);
		rows[n].v.family = fi;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (rows[i].v.family == EW_OS_UNKNOWN ?
			    bpf_map_delete_elem(fd, &rows[i].k) && errno != ENOENT :
			    bpf_map_update_elem(fd, &rows[i].k, &rows[i].v, BPF_ANY)) {
			ew_err("loading %s: %s", path, strerror(errno));
			goto out;
		}
	ret = n;
out:
	free(rows);
	fclose(f);
	return ret;
}

/* Load the p0f database files into the pinned maps (first the Debian one). */
int ew_osdb_load_files(const char *const *paths, int npaths)
{
	struct ew_osdb db;
	int kfd = -1, sfd = -1, lfd = -1, ret = -1;

	ew_osdb_init(&db);
	for (int i = 0; i < npaths; i++)
		if (ew_osdb_load(&db, paths[i]))
			goto out;
	kfd = ew_map_open("ew_oskey");
	sfd = ew_map_open("ew_ossig");
	lfd = ew_map_open("ew_oslabel");
	if (kfd < 0 || sfd < 0 || lfd < 0)
		goto out;
	if (ew_osdb_clear(kfd) || ew_osdb_install(&db, kfd, sfd, lfd))
		goto out;
	ret = db.nsigs;
out:
	if (kfd >= 0)
		close(kfd);
	if (sfd >= 0)
		close(sfd);
	if (lfd >= 0)
		close(lfd);
	ew_osdb_free(&db);
	return ret;
}

/*
 * First attach: defaults for thresholds and policy, the tunnel table and,
 * when present, Debian's p0f database. Later attaches keep what is loaded.
 */
int ew_detect_setup(void)
{
	struct ew_detect_cfg c;
	uint32_t zero = 0;
	const char *p0f = EW_P0F_FP;
	int fd = ew_map_open("ew_detcfg"), tfd;

	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, &c) == 0 && c.set) {
		close(fd);
		return 0;
	}
	close(fd);
	tfd = ew_map_open("ew_tunmtu");
	if (tfd < 0 || ew_tunnels_install(tfd)) {
		if (tfd >= 0)
			close(tfd);
		return -1;
	}
	close(tfd);
	tfd = ew_map_open("ew_tlsos");
	if (tfd < 0 || ew_tlsos_defaults_install(tfd) < 0) {
		if (tfd >= 0)
			close(tfd);
		return -1;
	}
	close(tfd);
	if (access(p0f, R_OK) == 0 && ew_osdb_load_files(&p0f, 1) < 0)
		return -1;
	ew_detect_cfg_defaults(&c);
	return ew_detect_cfg_write(&c);
}

/* ew_oslabel to name labels with: replay sets its private map; else the pin. */
int ew_oslabel_fd = -1;

static const char *os_label(uint16_t id, struct ew_os_label *l)
{
	uint32_t k = id;

	if (!id)
		return NULL;
	if (ew_oslabel_fd < 0) {
		char path[600];

		snprintf(path, sizeof(path), "%s/ew_oslabel", ew_g.pin_dir);
		ew_oslabel_fd = bpf_obj_get(path);
	}
	if (ew_oslabel_fd < 0 || bpf_map_lookup_elem(ew_oslabel_fd, &k, l) || !l->name[0])
		return NULL;
	return l->name;
}

void ew_conn_detect_json(json_object *o, const struct ew_conn *c)
{
	const struct ew_tcp_fp *fp = c ? &c->tcp : NULL;
	const struct ew_timing *t = c ? &c->t : NULL;
	struct ew_os_label l;
	const char *os = fp ? os_label(fp->os_id, &l) : NULL;
	char sig[160];
	bool seen = fp && !ew_tcp_raw_sig(fp, sig, sizeof(sig));

	json_object_object_add(o, "tcp_sig", seen ? json_object_new_string(sig) : NULL);
	json_object_object_add(o, "os", os ? json_object_new_string(os) : NULL);
	json_object_object_add(o, "os_match",
			       !os ? NULL : json_object_new_string(fp->os_flags & EW_OSM_FUZZY ? "fuzzy" :
								  fp->os_flags & EW_OSM_GENERIC ? "generic" : "exact"));
	json_object_object_add(o, "tunnel", fp && fp->tunnel_mtu && ew_tunnel_name(fp->tunnel_mtu) ?
						json_object_new_string(ew_tunnel_name(fp->tunnel_mtu)) : NULL);
	json_object_object_add(o, "tcp_rtt_us", t && (t->state & EW_T_TCP_RTT) ? json_object_new_int64(t->tcp_rtt_us) : NULL);
	json_object_object_add(o, "tls_rtt_us", t && (t->state & EW_T_TLS_RTT) ? json_object_new_int64(t->tls_rtt_us) : NULL);
}

/* A private copy of the maps (replay): defaults, tunnels, JA4 families, p0f if present. */
int ew_detect_setup_private(int detcfg_fd, int tun_fd, int tlsos_fd, int key_fd, int sig_fd, int label_fd)
{
	struct ew_detect_cfg c;
	struct ew_osdb db;
	uint32_t zero = 0;
	int ret = 0;

	ew_detect_cfg_init(&c);
	if (bpf_map_update_elem(detcfg_fd, &zero, &c, BPF_ANY) || ew_tunnels_install(tun_fd) ||
	    ew_tlsos_defaults_install(tlsos_fd) < 0)
		return -1;
	ew_oslabel_fd = label_fd;
	if (access(EW_P0F_FP, R_OK))
		return 0;
	ew_osdb_init(&db);
	if (ew_osdb_load(&db, EW_P0F_FP) || ew_osdb_install(&db, key_fd, sig_fd, label_fd))
		ret = -1;
	ew_osdb_free(&db);
	return ret;
}
