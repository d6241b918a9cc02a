// SPDX-License-Identifier: BSD-2-Clause
/*
 * SYN fingerprint rules (ew_tcprules) for `edgeward fp add|del|list tcp|os`:
 * an exact p0f signature (either form: raw_sig "4:57+7:..." or "4:64:...")
 * or an OS label as p0f prints it ("Linux 2.2.x-3.x"), with an action.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "edgeward.h"

static int key_parse(const char *kind, const char *val, struct ew_tcp_rule_key *k)
{
	char err[128];

	memset(k, 0, sizeof(*k));
	if (!strcmp(kind, "os")) {
		if (!*val || strlen(val) >= sizeof(k->val)) {
			ew_err("OS label '%s' must be 1 to %zu bytes", val, sizeof(k->val) - 1);
			return -1;
		}
		k->kind = EW_TR_OS;
		memcpy(k->val, val, strlen(val));
		return 0;
	}
	k->kind = EW_TR_SIG;
	if (ew_tcp_sig_parse(val, (struct ew_tcp_sig *)k->val, err, sizeof(err))) {
		ew_err("TCP signature '%s': %s", val, err);
		return -1;
	}
	return 0;
}

int ew_tcprule_cmd(const char *sub, const char *kind, int n, char **vals, int action, const char *label)
{
	struct ew_tcp_rule_key *ks = calloc(n, sizeof(*ks));
	struct ew_fp_val v = { .action = action };
	int fd = -1, ret = 1, i;

	if (!ks)
		return 1;
	for (i = 0; i < n; i++)
		if (key_parse(kind, vals[i], &ks[i]))
			goto out;
	fd = ew_map_open("ew_tcprules");
	if (fd < 0)
		goto out;
	if (label)
		snprintf(v.label, sizeof(v.label), "%s", label);
	for (i = 0; i < n; i++) {
		if (!strcmp(sub, "add") ? bpf_map_update_elem(fd, &ks[i], &v, BPF_ANY) :
					  bpf_map_delete_elem(fd, &ks[i])) {
			ew_err("%s %s rule '%s': %s", sub, kind, vals[i], errno == ENOENT ? "no such rule" : strerror(errno));
			/* nothing half-applied: undo what this command did */
			for (int j = 0; j < i && !strcmp(sub, "add"); j++)
				bpf_map_delete_elem(fd, &ks[j]);
			goto out;
		}
	}
	if (ew_rules_changed())
		goto out;
	if (!ew_g.json)
		printf("%d %s rule%s %s\n", n, kind, n > 1 ? "s" : "", !strcmp(sub, "add") ? "added" : "deleted");
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(ks);
	return ret;
}

json_object *ew_fp_rule_json(const char *kind, const char *match, const char *value, const struct ew_fp_val *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "match", json_object_new_string(match));
	json_object_object_add(o, "value", json_object_new_string(value));
	json_object_object_add(o, "action", json_object_new_string(ew_action_name(v->action)));
	json_object_object_add(o, "hits", json_object_new_int64(v->hits));
	json_object_object_add(o, "label", json_object_new_string_len(v->label, strnlen(v->label, EW_LABEL_LEN)));
	return o;
}

void ew_tcprule_list_json(json_object *arr)
{
	struct ew_tcp_rule_key k, next;
	struct ew_fp_val v;
	void *prev = NULL;
	char text[160];
	int fd = ew_map_open("ew_tcprules");

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (k.kind == EW_TR_SIG)
			ew_tcp_sig_fmt((const struct ew_tcp_sig *)k.val, text, sizeof(text));
		else
			snprintf(text, sizeof(text), "%.*s", (int)sizeof(k.val), k.val);
		json_object_array_add(arr, ew_fp_rule_json(k.kind == EW_TR_SIG ? "tcp" : "os", "full", text, &v));
	}
	close(fd);
}
