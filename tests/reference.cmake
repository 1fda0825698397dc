# reference.cmake - the engine against the independent float64 reference
# (tests/reference/, see its README.md). One fixture generates every test model
# once under the build dir with tools/make_model.py; each test then drives the
# real `qrank` binary and compares with qwen3_ref.py on the official prompt ids.

set(QRANK_REF_DIR ${CMAKE_CURRENT_SOURCE_DIR}/reference)
set(QRANK_REF_MODELS ${CMAKE_BINARY_DIR}/reference-models)

# The reference checks itself first, on tiny files it writes (no engine needed).
add_test(NAME reference-selftest
         COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/check_selftest.py ${CMAKE_BINARY_DIR})

add_test(NAME reference-models
         COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/make_models.py ${CMAKE_SOURCE_DIR} ${QRANK_REF_MODELS})
set_tests_properties(reference-models PROPERTIES FIXTURES_SETUP qrank_reference_models TIMEOUT 600)

# name | driver | arguments after QRANK MODELS_DIR (space-separated)
set(QRANK_REF_TESTS
  "rerank-A|check_rerank.py|A-gguf-f32 A-gguf-f16 A-gguf-bf16 A-gguf-q8_0 A-hf-bf16"
  "rerank-B|check_rerank.py|B-gguf-f32 B-gguf-f16 B-gguf-bf16 B-gguf-q8_0 B-hf-bf16"
  "rerank-C|check_rerank.py|C-gguf-f32 C-gguf-f16 C-gguf-bf16 C-gguf-q8_0 C-hf-bf16"
  "rerank-D|check_rerank.py|D-gguf-q4_0 D-gguf-q4_k D-gguf-q6_k D-gguf-q4_k_m"
  "rerank-variants|check_rerank.py|A-hf-sharded B-gguf-f32-tied B-gguf-f32-cls-swapped C-gguf-q8_0-padded"
  "batch-exact|check_batch.py|B-gguf-f32 --precision exact"
  "batch-fast|check_batch.py|A-gguf-q8_0 --precision fast"
  "truncation|check_truncation.py|A-gguf-q8_0"
  "cli|check_cli.py|B-gguf-bf16"
  "embed|check_embed.py|E-gguf-f32 E-gguf-f16 E-gguf-q8_0 E-hf-bf16 F-gguf-q4_k_m"
  "sensitivity|check_sensitivity.py|A-gguf-f32 B-gguf-f32 C-gguf-f32 D-gguf-q4_0 D-gguf-q4_k_m"
  "fast|check_fast.py|A-gguf-q8_0 B-gguf-q8_0 C-gguf-q8_0 A-gguf-bf16 B-hf-bf16 C-gguf-bf16 A-gguf-f32 A-gguf-f16 D-gguf-q4_0 D-gguf-q6_k D-gguf-q4_k_m"
)
foreach(spec ${QRANK_REF_TESTS})
  string(REPLACE "|" ";" parts "${spec}")
  list(GET parts 2 args)
  separate_arguments(args UNIX_COMMAND "${args}")
  list(GET parts 0 name)
  list(GET parts 1 driver)
  add_test(NAME reference-${name}
           COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/${driver} $<TARGET_FILE:qrank> ${QRANK_REF_MODELS} ${args})
  set_tests_properties(reference-${name} PROPERTIES FIXTURES_REQUIRED qrank_reference_models TIMEOUT 300)
endforeach()
# BF16 on AVX-512's vdpbf16ps too, which a CPU with AMX (table amx) no longer picks by itself; and
# F16, which rounds nothing there (the exact kernel) while amx multiplies it on bf16 tiles.
add_test(NAME reference-fast-bf16-avx512
         COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/check_fast.py $<TARGET_FILE:qrank> ${QRANK_REF_MODELS}
                 A-gguf-bf16 B-hf-bf16 C-gguf-bf16 A-gguf-f16)
set_tests_properties(reference-fast-bf16-avx512 PROPERTIES FIXTURES_REQUIRED qrank_reference_models TIMEOUT 300
                     ENVIRONMENT QRANK_KERNELS=avx512 SKIP_RETURN_CODE 77)
# The AVX-512 table without BF16 (Cascade Lake, Ice Lake; on CPUs with BF16 too when pinned):
# Q8_0 and the k-quants on vpdpbusd, BF16 and F16 on the f32 kernel (fast is exact there),
# attention in f32.
add_test(NAME reference-fast-avx512vnni
         COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/check_fast.py $<TARGET_FILE:qrank> ${QRANK_REF_MODELS}
                 A-gguf-q8_0 B-gguf-q8_0 C-gguf-q8_0 A-gguf-bf16 B-hf-bf16 A-gguf-f16 D-gguf-q4_k_m)
set_tests_properties(reference-fast-avx512vnni PROPERTIES FIXTURES_REQUIRED qrank_reference_models TIMEOUT 300
                     ENVIRONMENT QRANK_KERNELS=avx512vnni SKIP_RETURN_CODE 77)
# The exact path on the AVX2 and baseline tables: their matrix kernels, and the f32 attention and
# SiLU built for 8 and 4 lanes (vec_avx2.c, vec_generic.c), which CPUs without AVX-512 run.
foreach(table avx2 generic)
  add_test(NAME reference-rerank-${table}
           COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/check_rerank.py $<TARGET_FILE:qrank> ${QRANK_REF_MODELS}
                   A-gguf-f32 B-gguf-f32 C-gguf-q8_0 D-gguf-q4_k)
  set_tests_properties(reference-rerank-${table} PROPERTIES FIXTURES_REQUIRED qrank_reference_models TIMEOUT 300
                       ENVIRONMENT QRANK_KERNELS=${table} SKIP_RETURN_CODE 77)
endforeach()
# Attention on vdpbf16ps (attention_avx512_bf16.c), which only AMD CPUs pick by themselves: head
# dims 32, 16 and 48 (A, B, C), a lone query head per kv head in C; and a document alone
# against the same in a batch.
add_test(NAME reference-fast-bf16-attention
         COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/check_fast.py $<TARGET_FILE:qrank> ${QRANK_REF_MODELS}
                 A-gguf-q8_0 B-gguf-q8_0 C-gguf-q8_0 A-gguf-bf16 B-hf-bf16 C-gguf-bf16)
add_test(NAME reference-batch-fast-bf16-attention
         COMMAND ${QRANK_PYTHON} ${QRANK_REF_DIR}/check_batch.py $<TARGET_FILE:qrank> ${QRANK_REF_MODELS}
                 A-gguf-q8_0 --precision fast)
set_tests_properties(reference-fast-bf16-attention reference-batch-fast-bf16-attention PROPERTIES
                     FIXTURES_REQUIRED qrank_reference_models TIMEOUT 300
                     ENVIRONMENT "QRANK_KERNELS=avx512;QRANK_ATTENTION=bf16" SKIP_RETURN_CODE 77)

# The official Qwen3 code (transformers' Qwen3 and the model cards' scoring) on four of these
# models, recorded in tests/official/golden.json by make_golden.py where torch and transformers
# are installed. check_golden.py needs neither: it holds qrank's tokens, prompts, scores and
# embeddings (and the float64 reference) to that file, after checking the models are the
# golden's byte for byte. make_golden.py itself runs as official-golden-fresh, which exits 77
# (skipped, with the reason) where transformers cannot be imported, CI included.
set(QRANK_OFFICIAL_DIR ${CMAKE_CURRENT_SOURCE_DIR}/official)
add_test(NAME reference-official
         COMMAND ${QRANK_PYTHON} ${QRANK_OFFICIAL_DIR}/check_golden.py $<TARGET_FILE:qrank>
                 ${QRANK_REF_MODELS} ${QRANK_OFFICIAL_DIR}/golden.json)
set_tests_properties(reference-official PROPERTIES FIXTURES_REQUIRED qrank_reference_models TIMEOUT 300)
set(QRANK_OFFICIAL_PYTHON ${QRANK_PYTHON} CACHE FILEPATH
    "a Python with torch, transformers and numpy, for official-golden-fresh")
add_test(NAME official-golden-fresh
         COMMAND ${QRANK_OFFICIAL_PYTHON} ${QRANK_OFFICIAL_DIR}/make_golden.py $<TARGET_FILE:qrank>
                 ${QRANK_REF_MODELS} ${CMAKE_BINARY_DIR}/official-golden.json)
set_tests_properties(official-golden-fresh PROPERTIES FIXTURES_REQUIRED qrank_reference_models
                     SKIP_RETURN_CODE 77 TIMEOUT 600)
