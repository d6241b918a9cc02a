# edgeward build. One output folder ($(OUT)); `make V=1` shows the commands.
# BPF: clang -> bpftool gen object -> bpftool gen skeleton. User space: cc.
# Header changes rebuild their users (-MMD -MP on both sides).

OUT ?= build
BPF_CLANG ?= clang
CC ?= cc
BPFTOOL ?= bpftool
ARCH := x86

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:

INCLUDES := -Iinclude -I$(OUT)
BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	-Iinclude -Ivmlinux -Ibpf -MMD -MP
CFLAGS ?= -O2 -g
EW_CFLAGS = $(CFLAGS) -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -MMD -MP $(INCLUDES) \
	$(shell pkg-config --cflags json-c 2>/dev/null)
LDLIBS := -lbpf -lelf -lz -lcap -ljson-c -lpcap -lcrypto

USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
# Library code: everything but the command entry point, shared with the tests.
LIB_OBJS := $(filter-out $(OUT)/user/main.o,$(USER_OBJS))
# libedgeward (lib/, include/edgeward/lookup.h): the CLI and the tests link it too.
LIBEW_OBJS := $(patsubst lib/%.c,$(OUT)/lib/%.o,$(wildcard lib/*.c))
LIB_OBJS += $(LIBEW_OBJS)
LIBEW := $(OUT)/libedgeward.a $(OUT)/libedgeward.so
LDLIBS += -lmicrohttpd

UNIT_SRCS := $(wildcard tests/unit/*.c)
BPFT_SRCS := $(wildcard tests/bpf/*.c)

.PHONY: all clean demo test test-kernels fuzz fuzz-build test-unit test-bpf test-e2e test-clang bench deps vmlinux help

all: $(OUT)/edgeward

help:
	@echo "make            build $(OUT)/edgeward (V=1 shows commands)"
	@echo "make demo       install deps, build, run the namespace lab"
	@echo "make test       install deps, build, run every test"
	@echo "make bench      per-packet cost and comparisons"
	@echo "make vmlinux    regenerate vmlinux/vmlinux.h from this kernel (by hand)"

deps:
	$(Q)scripts/install-deps.sh

$(OUT) $(OUT)/user $(OUT)/bpf $(OUT)/tests:
	$(Q)mkdir -p $@

# --- BPF -------------------------------------------------------------------
$(OUT)/bpf/edgeward.bpf.o: bpf/edgeward.bpf.c | $(OUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

$(OUT)/edgeward.bpf.o: $(OUT)/bpf/edgeward.bpf.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(OUT)/edgeward.skel.h: $(OUT)/edgeward.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name edgeward_bpf > $@

# --- user space ------------------------------------------------------------
$(USER_OBJS): $(OUT)/edgeward.skel.h

$(OUT)/user/%.o: user/%.c | $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(EW_CFLAGS) -c $< -o $@

$(OUT)/edgeward: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# --- libedgeward (static and shared) and the example TLS server ---------------
LIBEW_CFLAGS := -O2 -g -Wall -Wextra -Werror -std=gnu11 -fPIC -MMD -MP -Iinclude

$(OUT)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(LIBEW_CFLAGS) -c $< -o $@

$(OUT)/edgeward: $(LIBEW_OBJS)

$(OUT)/libedgeward.a: $(LIBEW_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(OUT)/libedgeward.so: $(LIBEW_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) -shared -Wl,-soname,libedgeward.so $^ -o $@

$(OUT)/examples/tls-server: examples/tls-server/tls-server.c $(OUT)/libedgeward.a
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(LIBEW_CFLAGS) $< $(OUT)/libedgeward.a -lssl -lcrypto -o $@

all: $(LIBEW) $(OUT)/examples/tls-server
tests-build: $(LIBEW) $(OUT)/examples/tls-server
-include $(wildcard $(OUT)/lib/*.d)

# --- tests -----------------------------------------------------------------
$(OUT)/tests/%.o: tests/%.c $(OUT)/edgeward.skel.h
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(EW_CFLAGS) -Itests -Iuser -c $< -o $@

$(OUT)/tests/unit_tests: $(patsubst tests/%.c,$(OUT)/tests/%.o,$(UNIT_SRCS)) $(OUT)/tests/lib/runner.o \
		$(OUT)/tests/lib/pkt.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/bpf_tests: $(patsubst tests/%.c,$(OUT)/tests/%.o,$(BPFT_SRCS)) $(OUT)/tests/lib/runner.o \
		$(OUT)/tests/lib/pkt.o $(OUT)/tests/lib/bpfrun.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# --- benchmark: tests/bench/*.bpf.c (own skeletons) and the bench binary ------
BENCH_BPF := $(patsubst tests/bench/%.bpf.c,$(OUT)/bench/%.skel.h,$(wildcard tests/bench/*.bpf.c))

$(OUT)/bench/%.bpf.o: tests/bench/%.bpf.c
	@mkdir -p $(dir $@)
	$(call msg,BPF,$@)
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

$(OUT)/bench/%.skel.h: $(OUT)/bench/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUT)/bench/bench.o: tests/bench/bench.c $(BENCH_BPF) $(OUT)/edgeward.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(EW_CFLAGS) -I$(OUT)/bench -Itests -Iuser -c $< -o $@

$(OUT)/tests/bench: $(OUT)/bench/bench.o $(OUT)/tests/lib/pkt.o $(OUT)/tests/lib/bpfrun.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# scripts/bench-feeds.sh: threat-feed load, reload and lookup cost.
$(OUT)/bench/feeds_bench.o: tests/bench/feeds_bench.c $(OUT)/edgeward.skel.h
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(EW_CFLAGS) -Itests -Iuser -c $< -o $@

$(OUT)/tests/bench-feeds: $(OUT)/bench/feeds_bench.o $(OUT)/tests/lib/pkt.o $(OUT)/tests/lib/bpfrun.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

tests-build: $(OUT)/edgeward $(OUT)/tests/unit_tests $(OUT)/tests/bpf_tests $(OUT)/tests/bench $(OUT)/tests/bench-feeds

# Only what depends on the BPF compiler: the object, its skeleton, bpf_tests
# (tests/clang/clang_matrix.sh builds this once per clang).
tests-bpf-build: $(OUT)/tests/bpf_tests

test: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)OUT=$(OUT) tests/run.sh

# --- fuzzing: libFuzzer targets, clang with ASan + UBSan ----------------------
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_OBJS := $(patsubst $(OUT)/user/%,$(OUT)/fuzz/user/%,$(LIB_OBJS))

$(OUT)/fuzz/user/%.o: user/%.c $(OUT)/edgeward.skel.h
	@mkdir -p $(dir $@)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -std=gnu11 -MMD -MP $(INCLUDES) \
		$(shell pkg-config --cflags json-c 2>/dev/null) -c $< -o $@

$(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -std=gnu11 $(INCLUDES) -Iuser -Itests \
		$(shell pkg-config --cflags json-c 2>/dev/null) $^ $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

# `make fuzz FUZZ_SECONDS=N`: every target for N seconds.
fuzz: deps
	$(Q)OUT=$(OUT) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# The BPF test table on Debian 12's own Linux 6.1, booted under qemu.
test-kernels: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)OUT=$(OUT) scripts/test-kernels.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OUT=$(OUT) scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)OUT=$(OUT) scripts/bench.sh

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

clean:
	rm -rf $(OUT) build-*

-include $(wildcard $(OUT)/bpf/*.d $(OUT)/user/*.d $(OUT)/tests/*/*.d $(OUT)/fuzz/user/*.d $(OUT)/bench/*.d)
