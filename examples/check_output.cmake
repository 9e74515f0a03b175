# Runs EXE and checks that its whole standard output matches the regular expression in EXPECTED, and
# that it wrote nothing to standard error.
# (With OUTPUT_FILE instead of EXE: checks an output already captured, as ./scripts/demo does.)
if(DEFINED OUTPUT_FILE)
  set(EXE "${OUTPUT_FILE}")
  file(READ "${OUTPUT_FILE}" out)
else()
  execute_process(COMMAND "${EXE}" OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} exited with ${rc}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  # Run alone, every example is quiet on stderr: anything there is an error it logged (a cancellation
  # logged as a client's failure was one).
  if(NOT err STREQUAL "")
    message(FATAL_ERROR "${EXE} wrote to stderr:\n${err}")
  endif()
endif()
file(READ "${EXPECTED}" expected)
if(NOT out MATCHES "^${expected}$")
  message(FATAL_ERROR "output of ${EXE} does not match ${EXPECTED}\n--- got:\n${out}--- expected (regex):\n${expected}")
endif()
message(STATUS "output matches ${EXPECTED}")
