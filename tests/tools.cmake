# The model generator's numpy-free mode (tools/make_model.py --random-bytes),
# which bench-rerank falls back to on machines without numpy.
add_test(NAME make-model-random-bytes
         COMMAND ${QRANK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/tools/check_random_bytes.py $<TARGET_FILE:qrank>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/random-bytes-models)
set_tests_properties(make-model-random-bytes PROPERTIES TIMEOUT 300)
