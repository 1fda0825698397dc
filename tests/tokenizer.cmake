# tokenizer.cmake - the tokenizer's golden files stay true to the reference.
#
# test-tokenizer (from the tests/test-*.c glob) checks qrank against the
# committed golden files and needs no node. This test regenerates those files
# in memory with npm @huggingface/tokenizers and fails if the committed ones
# differ (a stale corpus or golden file). It exits 77 (skipped) where
# `npm ci` has not been run in tests/tokenizer.
find_program(QRANK_NODE node)
if(QRANK_NODE)
  add_test(NAME tokenizer-golden-fresh
           COMMAND ${QRANK_NODE} gen_golden.mjs --check
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer)
  set_tests_properties(tokenizer-golden-fresh PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
