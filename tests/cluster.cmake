# cluster.cmake - `qrank cluster` and `qrank eval` end to end (tests/cluster/check_cli.py)
# on two small synthetic models: their scores mean nothing, but structure,
# agreement with `qrank embed` / `qrank rerank`, determinism and errors are checked.
# The library parts are unit-tested without models in test-cluster.c and test-eval.c.

set(QRANK_CLUSTER_MODELS ${CMAKE_BINARY_DIR}/cluster-models)
add_test(NAME cluster-models
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py --out ${QRANK_CLUSTER_MODELS}/embedder.gguf
          --format gguf --dtype q8_0 --kind embedder --layers 2 --hidden 64 --ffn 128 --heads 4
          --kv-heads 2 --head-dim 16 --seed 21)
add_test(NAME cluster-models-reranker
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py --out ${QRANK_CLUSTER_MODELS}/reranker.gguf
          --format gguf --dtype q8_0 --kind reranker --layers 2 --hidden 64 --ffn 128 --heads 4
          --kv-heads 2 --head-dim 16 --seed 22)
set_tests_properties(cluster-models cluster-models-reranker PROPERTIES FIXTURES_SETUP qrank_cluster_models)

add_test(NAME cluster-cli
  COMMAND ${QRANK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cluster/check_cli.py $<TARGET_FILE:qrank>
          ${CMAKE_SOURCE_DIR} ${QRANK_CLUSTER_MODELS}/embedder.gguf ${QRANK_CLUSTER_MODELS}/reranker.gguf
          ${CMAKE_BINARY_DIR}/cluster-work)
set_tests_properties(cluster-cli PROPERTIES FIXTURES_REQUIRED qrank_cluster_models TIMEOUT 600)
set_tests_properties(test-cluster PROPERTIES TIMEOUT 600)
