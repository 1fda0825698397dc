# hardening.cmake - tests of issue 7 (tests/hardening/): hostile input and
# faults against a live `qrank serve`, a short load run, and a leak check of
# the CLI. They reuse tests/server.cmake's synthetic models (fixture
# server_models) and tests/api/harness.mjs; node needs no npm packages here.
#
# The load test runs QRANK_LOAD_SECONDS (default 15) inside CTest so that a
# developer's ./test.sh stays quick; CI runs it again for 60 s with 64
# connections (test.sh --full). The leak check uses LeakSanitizer in a
# -DQRANK_SANITIZE=ON tree and valgrind otherwise (skipped if it is absent).
if(NOT TARGET qrank OR NOT QRANK_SERVER_SOURCES)
  return()
endif()
find_program(QRANK_NODE node)
if(NOT QRANK_NODE)
  set(QRANK_NODE node)
endif()
set(QRANK_LOAD_SECONDS 15 CACHE STRING "Seconds of the load test inside CTest")
set(QRANK_LOAD_ARGS --seconds ${QRANK_LOAD_SECONDS})
if(QRANK_SANITIZE)
  list(APPEND QRANK_LOAD_ARGS --no-rss-check) # LeakSanitizer checks the server's exit instead
endif()

set(QRANK_HARDENING_ENV
  QRANK_BIN=$<TARGET_FILE:qrank>
  QRANK_MODEL=${CMAKE_BINARY_DIR}/tests/api/reranker.gguf
  QRANK_EMBED_MODEL=${CMAKE_BINARY_DIR}/tests/api/embedder.gguf
  QRANK_BUILD_DIR=${CMAKE_BINARY_DIR})

add_test(NAME hardening-faults
  COMMAND ${QRANK_NODE} --test ${CMAKE_SOURCE_DIR}/tests/hardening/faults.test.mjs
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/hardening)
add_test(NAME hardening-load
  COMMAND ${QRANK_NODE} ${CMAKE_SOURCE_DIR}/tests/hardening/load.mjs ${QRANK_LOAD_ARGS}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/hardening)
set_tests_properties(hardening-faults hardening-load PROPERTIES
  FIXTURES_REQUIRED server_models
  ENVIRONMENT "${QRANK_HARDENING_ENV}"
  TIMEOUT 600)
# The load test wants both cores to itself (its RSS and latency figures).
set_tests_properties(hardening-load PROPERTIES RUN_SERIAL TRUE)

if(QRANK_SANITIZE)
  set(QRANK_LEAK_MODE asan)
else()
  find_program(QRANK_VALGRIND valgrind)
  set(QRANK_LEAK_MODE valgrind)
endif()
if(QRANK_SANITIZE OR QRANK_VALGRIND)
  add_test(NAME hardening-leak-cli
    COMMAND ${CMAKE_SOURCE_DIR}/tests/hardening/leak.sh $<TARGET_FILE:qrank>
            ${CMAKE_BINARY_DIR}/tests/api/reranker.gguf ${QRANK_LEAK_MODE})
  set_tests_properties(hardening-leak-cli PROPERTIES FIXTURES_REQUIRED server_models TIMEOUT 600)
endif()

# The fuzz targets, built with gcc and fuzz/replay_main.c instead of libFuzzer,
# run over their committed seeds: the targets' own checks (round trips,
# tensors inside the file, documented statuses) in every ./test.sh.
set(QRANK_FUZZ_DIR ${CMAKE_SOURCE_DIR}/fuzz)
foreach(target fuzz_gguf fuzz_safetensors fuzz_hf_config fuzz_tokenizer fuzz_request)
  if(NOT EXISTS ${QRANK_FUZZ_DIR}/${target}.c)
    continue()
  endif()
  set(sources ${QRANK_FUZZ_DIR}/${target}.c ${QRANK_FUZZ_DIR}/replay_main.c)
  if(target STREQUAL "fuzz_request")
    file(GLOB server_parts ${CMAKE_SOURCE_DIR}/server/*.c)
    list(FILTER server_parts EXCLUDE REGEX "/(serve|http)\\.c$")
    list(APPEND sources ${server_parts} ${CMAKE_BINARY_DIR}/generated/page_assets.c)
  endif()
  add_executable(replay-${target} ${sources})
  target_include_directories(replay-${target} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/server)
  target_compile_definitions(replay-${target} PRIVATE QRANK_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_link_libraries(replay-${target} PRIVATE qrank_lib)
  if(target STREQUAL "fuzz_request")
    set_source_files_properties(${CMAKE_BINARY_DIR}/generated/page_assets.c PROPERTIES GENERATED TRUE)
    add_dependencies(replay-${target} qrank) # qrank's rule writes page_assets.c
    find_package(Threads REQUIRED)
    target_link_libraries(replay-${target} PRIVATE Threads::Threads)
  endif()
  add_test(NAME hardening-replay-${target} COMMAND replay-${target} ${QRANK_FUZZ_DIR}/corpus/${target})
endforeach()
