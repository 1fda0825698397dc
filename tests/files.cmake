# files.cmake - test models for the file readers (test-gguf, test-safetensors).
#
# tools/make_model.py writes them into BUILD_DIR/models as CTest fixture
# setups, so `ctest -R test-gguf` regenerates what it needs. All share seed 7,
# so the GGUF and HF files are one model in different weight types. Other
# tests may require the fixture `qrank_files_models` and use these files too.
set(QRANK_FILES_MODELS ${CMAKE_BINARY_DIR}/models)
set(QRANK_FILES_MODEL_ARGS
  "files-rerank-q8_0.gguf --format gguf --dtype q8_0"
  "files-rerank-f32.gguf --format gguf --dtype f32"
  "files-embed-f16-padded.gguf --format gguf --dtype f16 --kind embedder --vocab-rows 151936"
  "files-rerank-bf16-nocls.gguf --format gguf --dtype bf16 --no-cls"
  "files-hf-bf16 --format hf --dtype bf16"
  "files-hf-f32-shards --format hf --dtype f32 --shards 3 --no-prefix"
)
file(MAKE_DIRECTORY ${QRANK_FILES_MODELS})
foreach(entry ${QRANK_FILES_MODEL_ARGS})
  separate_arguments(parts UNIX_COMMAND "${entry}")
  list(GET parts 0 out)
  list(SUBLIST parts 1 -1 args)
  add_test(NAME make-model-${out}
           COMMAND ${QRANK_PYTHON} ${CMAKE_SOURCE_DIR}/tools/make_model.py --seed 7
                   --out ${QRANK_FILES_MODELS}/${out} ${args})
  set_tests_properties(make-model-${out} PROPERTIES FIXTURES_SETUP qrank_files_models)
endforeach()
set_tests_properties(test-gguf test-safetensors PROPERTIES FIXTURES_REQUIRED qrank_files_models)
