# Run one command and require its exit code and a message (ctest's WILL_FAIL accepts any
# non-zero exit code; PASS_REGULAR_EXPRESSION ignores the exit code).
#   cmake -DEXE=prog "-DARGS=a;b" -DRC=2 "-DREGEX=..." -P expect_exit.cmake
execute_process(COMMAND ${EXE} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("exit: ${rc}\nstdout:\n${out}\nstderr:\n${err}")
if(NOT "${rc}" STREQUAL "${RC}")
  message(FATAL_ERROR "expected exit code ${RC}, got '${rc}'")
endif()
if(NOT "${out}${err}" MATCHES "${REGEX}")
  message(FATAL_ERROR "expected output matching '${REGEX}'")
endif()
