# kiln — top-level build. Everything lands in $(BUILD)/, nothing in the tree.
#
#   make            library (static + shared), the kiln CLI, examples
#   make demo       install missing packages, build, train the MLP, export, run optimized inference
#   make test       install missing packages, build, run the Criterion suite + conformance
#   make sanitize   the same suite under ASan + UBSan
#   make bench      benchmarks against PyTorch / ONNX Runtime (see BENCHMARKS.md)
#   make fuzz       libFuzzer on the ONNX reader + optimizer (clang; FUZZ_SECONDS=60)
#   make micro      kernel micro-benchmarks (conv forward, OpenBLAS NT vs NN) for BENCHMARKS.md
#   make CUDA=0     build without the CUDA backend (default: on when nvcc exists)

BUILD      ?= build
CC         ?= gcc
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
CUDA_HOME  ?= /usr/local/cuda
NVCC       ?= $(CUDA_HOME)/bin/nvcc
PYTHON     ?= /usr/bin/python3
ARCHFLAGS  ?= -march=native

ifeq ($(origin CUDA), undefined)
  CUDA := $(if $(and $(wildcard $(NVCC)),$(wildcard cuda/*.cu)),1,0)
endif

OPT        ?= -O2
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fopenmp -g -fno-math-errno \
              -I. -Iinclude -I$(BUILD)/gen -I/usr/include/x86_64-linux-gnu/openblas-openmp
CFLAGS     ?= $(OPT) $(ARCHFLAGS)
ALL_CFLAGS  = $(CFLAGS_BASE) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS      = -lopenblas -lprotobuf-c -lz -lm -fopenmp $(EXTRA_LDFLAGS)

ifeq ($(CUDA),1)
  ALL_CFLAGS += -DKN_WITH_CUDA
  LDLIBS     += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublasLt -lcublas -lcudart -lstdc++
  NVCCFLAGS  ?= -O3 -std=c++17 -Xcompiler -fPIC,-Wall,-Werror -I. -Iinclude \
                -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80
endif

# ---- sources (discovered, so adding an op is one new file + one ops.def line) ----
LIB_SRCS  = $(wildcard core/*.c core/cpu/*.c nn/*.c nn/ops/*.c nn/passes/*.c nn/data/*.c \
                       onnx/*.c optim/*.c)
CUDA_SRCS = $(if $(filter 1,$(CUDA)),$(wildcard cuda/*.cu) $(wildcard cuda/*.c))
PB_C      = $(BUILD)/gen/onnx/onnx.pb-c.c
PB_H      = $(BUILD)/gen/onnx/onnx.pb-c.h
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o \
            $(patsubst %,$(BUILD)/obj/%.o,$(CUDA_SRCS))
TOOL_SRCS = $(wildcard tools/*.c)
EXAMPLES  = $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
TEST_SRCS = $(wildcard tests/*.c)
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)

LIBA  = $(BUILD)/libkiln.a
LIBSO = $(BUILD)/libkiln.so
KILN  = $(BUILD)/kiln
TESTS = $(BUILD)/tests/kiln_tests
Q     = $(if $(V),,@)

.PHONY: all lib demo test check sanitize bench deps venv clean cuda-check fuzz micro
.DEFAULT_GOAL := all

all: $(LIBA) $(LIBSO) $(KILN) $(EXAMPLES)
lib: $(LIBA) $(LIBSO)

# ---- protobuf-c generated from the official schema, at build time ----
$(PB_C) $(PB_H): $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen/onnx
	@test -f $(ONNX_PROTO) || { echo "error: $(ONNX_PROTO) not found (apt-get install libonnx-dev, or set ONNX_PROTO=)"; exit 1; }
	cp $(ONNX_PROTO) $(BUILD)/gen/onnx/onnx.proto
	cd $(BUILD)/gen && protoc-c --c_out=. onnx/onnx.proto

$(BUILD)/obj/gen/onnx.pb-c.o: $(PB_C)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Werror -Wextra,$(ALL_CFLAGS)) -w -c $< -o $@

# Every object depends on the generated header so onnx/ can include it.
$(BUILD)/obj/%.o: %.c $(PB_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(FILE_CFLAGS) -MMD -MP -c $< -o $@

# The packed-weights convolution's tiles broadcast input[j * S + kj] for each tap kj:
# GCC 12's predictive commoning (on at -O2) carries those values across taps through
# the stack: 140 against 197 GFLOP/s for the /tmp prototype of 2026-11-27 ~15:20 (16->16
# 3x3 28x28, batch 64, 2 threads); keep it off there.
$(BUILD)/obj/core/cpu/pconv.o: FILE_CFLAGS = -fno-predictive-commoning

$(BUILD)/obj/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC    $<"
	$(Q)$(NVCC) $(NVCCFLAGS) -MD -MF $(@:.o=.d) -c $< -o $@

$(LIBA): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIBSO): $(LIB_OBJS)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(KILN): $(TOOL_SRCS:%.c=$(BUILD)/obj/%.o) $(LIBA)
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDLIBS)

$(TESTS): $(TEST_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lcriterion $(LDLIBS)

# Objects compiled with and without -DKN_WITH_CUDA differ: a stamp named for the setting
# rebuilds them when CUDA flips within one BUILD directory.
CUDA_STAMP = $(BUILD)/cuda-$(CUDA).stamp
$(CUDA_STAMP):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/cuda-*.stamp
	@touch $@
$(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(TEST_OBJS) $(TOOL_SRCS:%.c=$(BUILD)/obj/%.o): $(CUDA_STAMP)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- fuzzing: clang + libFuzzer + ASan over the library sources (CPU only) ----
FUZZ_SECONDS ?= 60
FUZZ = $(BUILD)/fuzz/onnx_load
$(FUZZ): $(LIB_SRCS) $(PB_C) tests/fuzz/onnx_load.c
	@command -v clang >/dev/null || { echo "make fuzz needs clang with libFuzzer (Debian: clang)"; exit 1; }
	@mkdir -p $(dir $@)
	clang -O1 -g -fsanitize=address,fuzzer -fopenmp=libgomp $(ARCHFLAGS) -std=c11 -D_GNU_SOURCE -I. -Iinclude \
	    -I$(BUILD)/gen -w $(LIB_SRCS) $(PB_C) tests/fuzz/onnx_load.c -o $@ -lopenblas -lprotobuf-c -lz -lm -lgomp
fuzz: $(FUZZ)
	@mkdir -p $(BUILD)/fuzz/corpus
	@cp tests/data/models/*/model.onnx $(BUILD)/fuzz/corpus/ 2>/dev/null; \
	 for d in $$(ls -d /usr/share/libonnx-testdata/data/node/*/ 2>/dev/null | head -400); do \
	   cp $$d/model.onnx $(BUILD)/fuzz/corpus/$$(basename $$d).onnx 2>/dev/null; done; true
	cd $(BUILD)/fuzz && ./onnx_load -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=3000 -timeout=10 \
	    -max_len=65536 -print_final_stats=1 corpus

# ---- set-up: install what is missing (Debian) ----
APT_PKGS = gcc make pkg-config libopenblas-openmp-dev libprotobuf-c-dev protobuf-c-compiler \
           libcriterion-dev libonnx-dev zlib1g-dev libonnx-testdata dataset-fashion-mnist \
           python3 python3-venv
deps:
	@sh tools/install-deps.sh $(APT_PKGS)

# Interop referees (onnx.checker, ONNX Runtime) from PyPI in a virtualenv under build/.
VENV = $(BUILD)/venv
venv: $(VENV)/.ok
$(VENV)/.ok: tools/requirements.txt
	@sh tools/make-venv.sh $(PYTHON) $(VENV) tools/requirements.txt

# ---- the two commands ----
demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/demo.sh $(KILN) $(BUILD)

test: deps
	@$(MAKE) --no-print-directory all $(TESTS)
	-@$(MAKE) --no-print-directory venv
	@sh tools/run-tests.sh $(TESTS) $(KILN) $(BUILD)

check: test

# Two sanitized builds: portable (no -march: the im2col and scalar paths every machine
# has) and native (this machine's AVX-512 direct and packed-weights kernels).
SAN_BUILD = --no-print-directory CUDA=0 OPT=-O1 \
	    EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined"
SAN_RUN = KILN_SANITIZE=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp sh tools/run-tests.sh
sanitize: deps
	@$(MAKE) $(SAN_BUILD) BUILD=build/sanitize ARCHFLAGS= all build/sanitize/tests/kiln_tests
	@$(SAN_RUN) build/sanitize/tests/kiln_tests build/sanitize/kiln build/sanitize
	@$(MAKE) $(SAN_BUILD) BUILD=build/sanitize-native ARCHFLAGS=-march=native all build/sanitize-native/tests/kiln_tests
	@$(SAN_RUN) build/sanitize-native/tests/kiln_tests build/sanitize-native/kiln build/sanitize-native

$(BUILD)/bench/micro: $(BUILD)/obj/bench/micro.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDLIBS)
micro: $(BUILD)/bench/micro
	$(BUILD)/bench/micro

bench: deps
	@$(MAKE) --no-print-directory all
	-@$(MAKE) --no-print-directory venv
	@sh bench/run.sh $(KILN) $(BUILD)

clean:
	rm -rf $(BUILD)
