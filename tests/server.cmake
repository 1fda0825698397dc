# server.cmake - the tests of `qrank serve` (tests/api/): the HTTP contract,
# the official Cohere and OpenAI SDKs, and the page in headless Chromium.
# Each test file starts its own servers on 127.0.0.1 with --port 0 and stops
# them; all share one tiny synthetic reranker and embedder made here.
# The npm packages come from tests/api/package-lock.json (test.sh runs npm ci).
if(NOT TARGET qrank OR NOT QRANK_SERVER_SOURCES)
  return()
endif()
find_program(QRANK_NODE node)
if(NOT QRANK_NODE)
  set(QRANK_NODE node) # registered anyway: a missing node fails the tests loudly
endif()

set(QRANK_API_WORK ${CMAKE_BINARY_DIR}/tests/api)
file(MAKE_DIRECTORY ${QRANK_API_WORK})
set(QRANK_API_MODEL_ARGS --format gguf --dtype q8_0 --layers 2 --hidden 64 --ffn 128 --heads 4
    --kv-heads 2 --head-dim 32)
add_test(NAME server-model-reranker
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py --out ${QRANK_API_WORK}/reranker.gguf
          ${QRANK_API_MODEL_ARGS} --seed 0 --kind reranker)
add_test(NAME server-model-embedder
  COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py --out ${QRANK_API_WORK}/embedder.gguf
          ${QRANK_API_MODEL_ARGS} --seed 1 --kind embedder)
set_tests_properties(server-model-reranker server-model-embedder PROPERTIES FIXTURES_SETUP server_models)

set(QRANK_API_ENV
  QRANK_BIN=$<TARGET_FILE:qrank>
  QRANK_MODEL=${QRANK_API_WORK}/reranker.gguf
  QRANK_EMBED_MODEL=${QRANK_API_WORK}/embedder.gguf
  QRANK_BUILD_DIR=${CMAKE_BINARY_DIR})
# start: ./start.sh offline, end to end (it builds its own tree, hence the longer timeout).
# cluster, cluster-browser: POST /v1/cluster and the page's Cluster tab.
foreach(part api sdk browser start cluster cluster-browser)
  add_test(NAME server-${part}
    COMMAND ${QRANK_NODE} --test ${CMAKE_SOURCE_DIR}/tests/api/${part}.test.mjs
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/api)
  set_tests_properties(server-${part} PROPERTIES
    FIXTURES_REQUIRED server_models
    ENVIRONMENT "${QRANK_API_ENV}"
    TIMEOUT 600)
endforeach()
