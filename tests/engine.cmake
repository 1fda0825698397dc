# Engine tests that need a model file: a small synthetic reranker (f32, so
# that exact-path comparisons are not blurred by weight rounding).
add_test(NAME engine_models
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py
          --out ${CMAKE_BINARY_DIR}/models/engine-f32.gguf --format gguf --dtype f32
          --layers 2 --hidden 64 --ffn 128 --heads 4 --kv-heads 2 --head-dim 32 --seed 11)
set_tests_properties(engine_models PROPERTIES FIXTURES_SETUP engine_models)
set_tests_properties(test-rerank PROPERTIES FIXTURES_REQUIRED engine_models)
