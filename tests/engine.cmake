# Engine tests that need a model file: a small synthetic reranker (f32, so
# that exact-path comparisons are not blurred by weight rounding).
add_test(NAME engine_models
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py
          --out ${CMAKE_BINARY_DIR}/models/engine-f32.gguf --format gguf --dtype f32
          --layers 2 --hidden 64 --ffn 128 --heads 4 --kv-heads 2 --head-dim 32 --seed 11)
add_test(NAME engine_models_q8_0
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py
          --out ${CMAKE_BINARY_DIR}/models/engine-q8_0.gguf --format gguf --dtype q8_0
          --layers 2 --hidden 64 --ffn 128 --heads 4 --kv-heads 2 --head-dim 32 --seed 12)
# hidden 256: k-quant rows are 256 values (Q4_K, Q6_K as llama.cpp's Q4_K_M mixes them)
add_test(NAME engine_models_q4_k_m
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py
          --out ${CMAKE_BINARY_DIR}/models/engine-q4_k_m.gguf --format gguf --dtype q4_k_m
          --layers 1 --hidden 256 --ffn 512 --heads 4 --kv-heads 2 --head-dim 64 --seed 13)
add_test(NAME engine_models_bf16
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py
          --out ${CMAKE_BINARY_DIR}/models/engine-bf16.gguf --format gguf --dtype bf16
          --layers 2 --hidden 64 --ffn 128 --heads 4 --kv-heads 2 --head-dim 32 --seed 14)
set_tests_properties(engine_models engine_models_q8_0 engine_models_q4_k_m engine_models_bf16
                     PROPERTIES FIXTURES_SETUP engine_models)
set_tests_properties(test-rerank PROPERTIES FIXTURES_REQUIRED engine_models)
