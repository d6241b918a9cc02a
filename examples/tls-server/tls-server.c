// SPDX-License-Identifier: BSD-2-Clause
/*
 * Example: a TLS server that asks edgeward about each of its own
 * connections with libedgeward and logs the client's JA4 beside the
 * request. One connection at a time, HTTP/1.x, answers with what edgeward
 * knows as a small JSON body.
 *
 *   tls-server --cert CERT --key KEY [--listen ADDR:PORT] [--pin-dir DIR] [--count N]
 *
 * Log line (stdout), one per request:
 *   client=198.18.0.1:40312 request="GET / HTTP/1.1" ja4=t13d... ja3=... sni=...
 *   verdict=pass reasons=0x0 packets_in=6 bytes_in=900 packets_out=5 bytes_out=3000
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include "edgeward/lookup.h"

static int listen_on(const char *spec)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd, one = 1;
	size_t hl;

	if (!colon || (hl = colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(atoi(colon + 1));
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(atoi(colon + 1));
		len = sizeof(struct sockaddr_in6);
	} else {
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void peer_str(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", a, port);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* One connection: handshake, request line, lookup, log, answer. */
static void serve(SSL_CTX *ctx, struct ew_lookup *ew, int fd)
{
	char req[2048] = "", line[256], peer[80], body[1024], resp[1400];
	struct ew_lookup_result r;
	SSL *ssl = SSL_new(ctx);
	int n, err;
	char *eol;

	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) <= 0) {
		ERR_print_errors_fp(stderr);
		goto out;
	}
	n = SSL_read(ssl, req, sizeof(req) - 1);
	if (n <= 0)
		goto out;
	req[n] = 0;
	snprintf(line, sizeof(line), "%s", req);
	if ((eol = strpbrk(line, "\r\n")))
		*eol = 0;
	peer_str(fd, peer, sizeof(peer));

	err = ew ? ew_lookup_fd(ew, fd, &r) : -ENODEV;
	if (err) {
		printf("client=%s request=\"%s\" edgeward=%s\n", peer, line, strerror(-err));
		snprintf(body, sizeof(body), "{\"edgeward\":\"%s\"}\n", strerror(-err));
	} else {
		const struct ew_tls_fp *t = &r.conn.tls;

		printf("client=%s request=\"%s\" ja4=%s ja3=%s sni=%s verdict=%s reasons=0x%x packets_in=%llu "
		       "bytes_in=%llu packets_out=%llu bytes_out=%llu\n",
		       peer, line, or_dash(r.has_conn ? t->ja4 : NULL), or_dash(r.has_conn ? t->ja3 : NULL),
		       or_dash(r.has_conn ? t->sni : NULL), ew_lookup_action_name(r.verdict), r.evidence,
		       (unsigned long long)r.flow.packets[0], (unsigned long long)r.flow.bytes[0],
		       (unsigned long long)r.flow.packets[1], (unsigned long long)r.flow.bytes[1]);
		snprintf(body, sizeof(body),
			 "{\"client\":\"%s\",\"ja4\":\"%s\",\"verdict\":\"%s\",\"packets_in\":%llu,\"bytes_in\":%llu}\n",
			 peer, r.has_conn ? t->ja4 : "", ew_lookup_action_name(r.verdict),
			 (unsigned long long)r.flow.packets[0], (unsigned long long)r.flow.bytes[0]);
	}
	fflush(stdout);
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s",
		     strlen(body), body);
	SSL_write(ssl, resp, n);
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' }, { "pin-dir", required_argument, NULL, 'P' },
		{ "count", required_argument, NULL, 'n' }, {},
	};
	const char *cert = NULL, *key = NULL, *listen_spec = "0.0.0.0:4433", *pin_dir = NULL;
	struct ew_lookup *ew = NULL;
	long count = -1;
	SSL_CTX *ctx;
	int c, lfd, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'l': listen_spec = optarg; break;
		case 'P': pin_dir = optarg; break;
		case 'n': count = atol(optarg); break;
		default:
			fprintf(stderr, "usage: tls-server --cert CERT --key KEY [--listen ADDR:PORT] "
					"[--pin-dir DIR] [--count N]\n");
			return 2;
		}
	}
	if (!cert || !key) {
		fprintf(stderr, "tls-server: --cert and --key are required\n");
		return 2;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	/* Open edgeward's maps before serving; without them the server still serves. */
	err = ew_lookup_open(&ew, pin_dir);
	if (err)
		fprintf(stderr, "tls-server: edgeward lookups off: %s\n", strerror(-err));
	lfd = listen_on(listen_spec);
	if (lfd < 0) {
		fprintf(stderr, "tls-server: cannot listen on %s: %s\n", listen_spec, strerror(errno));
		return 1;
	}
	fprintf(stderr, "tls-server: listening on %s\n", listen_spec);
	for (long served = 0; count < 0 || served < count; served++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			break;
		}
		serve(ctx, ew, fd);
	}
	close(lfd);
	ew_lookup_close(ew);
	SSL_CTX_free(ctx);
	return 0;
}
