# ctest unit.install_consumer: the installed package is usable by a program
# outside this tree, through CMake's find_package and through pkg-config,
# both for the tracing API and for the README's link-time route.
#
#   cmake -DBUILD_DIR=<configured and built rpctrace tree>
#         -DSOURCE_DIR=<this folder> -DWORK_DIR=<scratch folder, wiped>
#         -P run.cmake
#
# Steps: install BUILD_DIR into WORK_DIR/prefix; configure and build
# consumer/ with CMAKE_PREFIX_PATH pointing there, run `consumer`
# (rpctrace::rpctrace) and a traced gRPC server and client (`traced_rpc`,
# rpctrace::wrap) over loopback; compile consumer.c again with
# `pkg-config --cflags --libs rpctrace` and traced_rpc.c with
# `pkg-config --cflags --libs rpctrace-wrap`, and run them the same way.
# Each traced run must export a CLIENT and a SERVER span of the RPC (otlp_file
# exporter) in one trace, the server's parent being the client's span. Any
# failure stops the script with the failing step's output.
# string(JSON) reads the spans: CMake 3.19 (bookworm has 3.25).
cmake_minimum_required(VERSION 3.19)

foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")

# Runs one step; on failure prints its command line and output and stops.
# Usage: run_step(<name> [WORKING_DIRECTORY <dir>] COMMAND <cmd> <args...>)
function(run_step name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "WORKING_DIRECTORY" "COMMAND")
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${WORK_DIR}")
  endif()
  list(JOIN arg_COMMAND " " cmdline)
  message(STATUS "[${name}] ${cmdline}")
  execute_process(COMMAND ${arg_COMMAND}
    WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}"
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  if(NOT rc STREQUAL "0")
    # NOTICE prints the output as it is; FATAL_ERROR would reflow it.
    message(NOTICE "----- output of [${name}] -----\n${out}----- end of output -----")
    message(FATAL_ERROR "[${name}] failed (${rc}): ${cmdline}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# The spans of one otlp_file output: for each span, its kind, name, trace
# id, span id and parent span id (empty for a root) joined by '|', into the
# list <out_var>. Ids are hex, names contain no '|' or ';'.
function(read_spans file out_var)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "[spans] ${file} was not written")
  endif()
  file(READ "${file}" text)
  set(spans "")
  # One ExportTraceServiceRequest per line; walked with FIND rather than as
  # a CMake list, which would split a line at any ';' inside the JSON.
  while(NOT text STREQUAL "")
    string(FIND "${text}" "\n" nl)
    if(nl EQUAL -1)
      set(line "${text}")
      set(text "")
    else()
      string(SUBSTRING "${text}" 0 ${nl} line)
      math(EXPR nl "${nl} + 1")
      string(SUBSTRING "${text}" ${nl} -1 text)
    endif()
    if(line STREQUAL "")
      continue()
    endif()
    string(JSON n_rs ERROR_VARIABLE err LENGTH "${line}" resourceSpans)
    if(err)
      message(FATAL_ERROR "[spans] ${file}: not an OTLP JSON line (${err}): ${line}")
    endif()
    math(EXPR last_rs "${n_rs} - 1")
    foreach(r RANGE ${last_rs})
      string(JSON n_ss LENGTH "${line}" resourceSpans ${r} scopeSpans)
      math(EXPR last_ss "${n_ss} - 1")
      foreach(s RANGE ${last_ss})
        string(JSON n_sp LENGTH "${line}" resourceSpans ${r} scopeSpans ${s} spans)
        math(EXPR last_sp "${n_sp} - 1")
        foreach(i RANGE ${last_sp})
          set(at resourceSpans ${r} scopeSpans ${s} spans ${i})
          string(JSON kind GET "${line}" ${at} kind)
          string(JSON name GET "${line}" ${at} name)
          string(JSON trace_id GET "${line}" ${at} traceId)
          string(JSON span_id GET "${line}" ${at} spanId)
          string(JSON parent ERROR_VARIABLE no_parent GET "${line}" ${at} parentSpanId)
          if(no_parent)
            set(parent "")
          endif()
          list(APPEND spans "${kind}|${name}|${trace_id}|${span_id}|${parent}")
        endforeach()
      endforeach()
    endforeach()
  endwhile()
  set(${out_var} "${spans}" PARENT_SCOPE)
endfunction()

# The one span of <kind> (OTLP numbering: 2 SERVER, 3 CLIENT) named <name>
# in <spans>, split into <prefix>_trace, <prefix>_span, <prefix>_parent.
function(the_span step spans kind name prefix)
  set(found "")
  foreach(sp IN LISTS spans)
    if(sp MATCHES "^${kind}\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|([^|]*)$" AND CMAKE_MATCH_1 STREQUAL name)
      list(APPEND found "${sp}")
      set(${prefix}_trace "${CMAKE_MATCH_2}" PARENT_SCOPE)
      set(${prefix}_span "${CMAKE_MATCH_3}" PARENT_SCOPE)
      set(${prefix}_parent "${CMAKE_MATCH_4}" PARENT_SCOPE)
    endif()
  endforeach()
  list(LENGTH found n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "[${step}] expected one span of kind ${kind} named ${name}, found ${n}; "
      "all spans (kind|name|trace|span|parent): ${spans}")
  endif()
endfunction()

# Runs `<program> server | <program> client` (the server prints its port,
# the client reads it), each exporting to its own otlp_file; then checks that
# the RPC left a CLIENT span and a SERVER span in one trace, the server's
# parent being the client's span, and that neither program said it had no
# front end.
function(run_traced_rpc step program)
  set(dir "${WORK_DIR}/${step}")
  file(MAKE_DIRECTORY "${dir}")
  set(env "${CMAKE_COMMAND}" -E env OTEL_TRACES_EXPORTER=otlp_file OTEL_BSP_SCHEDULE_DELAY=100)
  message(STATUS "[${step}] ${program} server | ${program} client")
  execute_process(
    COMMAND ${env} OTEL_SERVICE_NAME=install-server "RPCTRACE_OTLP_FILE_PATH=${dir}/server.jsonl"
            "${program}" server
    COMMAND ${env} OTEL_SERVICE_NAME=install-client "RPCTRACE_OTLP_FILE_PATH=${dir}/client.jsonl"
            "${program}" client
    WORKING_DIRECTORY "${dir}"
    TIMEOUT 60
    RESULTS_VARIABLE rcs
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rcs STREQUAL "0;0" OR err MATCHES "no gRPC front end")
    message(NOTICE "----- output of [${step}] -----\n${out}${err}----- end of output -----")
    message(FATAL_ERROR "[${step}] failed (server, client: ${rcs})")
  endif()
  string(STRIP "${out}" out)
  message(STATUS "[${step}] ${out}")

  set(name "rpctrace.install.Echo/Ping")
  read_spans("${dir}/client.jsonl" client_spans)
  read_spans("${dir}/server.jsonl" server_spans)
  the_span(${step} "${client_spans}" 3 "${name}" client)
  the_span(${step} "${server_spans}" 2 "${name}" server)
  if(NOT server_trace STREQUAL client_trace)
    message(FATAL_ERROR "[${step}] the server span is in trace ${server_trace}, "
      "the client span in ${client_trace}")
  endif()
  if(NOT server_parent STREQUAL client_span)
    message(FATAL_ERROR "[${step}] the server span's parent is '${server_parent}', "
      "not the client span ${client_span}")
  endif()
  message(STATUS "[${step}] trace ${client_trace}: CLIENT span ${client_span} -> SERVER span ${server_span}")
endfunction()

# Build the consumers with the compiler and generator of the tree under test.
set(c_compiler cc)
set(generator "")
if(EXISTS "${BUILD_DIR}/CMakeCache.txt")
  file(STRINGS "${BUILD_DIR}/CMakeCache.txt" cache_lines
    REGEX "^(CMAKE_C_COMPILER|CMAKE_GENERATOR):")
  foreach(line IN LISTS cache_lines)
    if(line MATCHES "^CMAKE_C_COMPILER:[A-Z]+=(.+)$")
      set(c_compiler "${CMAKE_MATCH_1}")
    elseif(line MATCHES "^CMAKE_GENERATOR:[A-Z]+=(.+)$")
      set(generator "${CMAKE_MATCH_1}")
    endif()
  endforeach()
endif()
set(generator_args "")
if(generator)
  set(generator_args -G "${generator}")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. Install.
run_step(install COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")

# 2. find_package(rpctrace) consumer.
run_step(cmake-configure COMMAND "${CMAKE_COMMAND}"
  -S "${SOURCE_DIR}/consumer" -B "${WORK_DIR}/build" ${generator_args}
  "-DCMAKE_C_COMPILER=${c_compiler}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  -DCMAKE_BUILD_TYPE=RelWithDebInfo)

# A system-wide rpctrace must not stand in for the one just installed.
file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" found_dir REGEX "^rpctrace_DIR:")
string(REGEX REPLACE "^rpctrace_DIR:[A-Z]+=" "" found_dir "${found_dir}")
file(REAL_PATH "${prefix}" real_prefix)
if(EXISTS "${found_dir}")
  file(REAL_PATH "${found_dir}" found_dir)
endif()
string(FIND "${found_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "[cmake-configure] find_package used rpctrace_DIR=${found_dir}, "
    "not the package installed under ${real_prefix}")
endif()

run_step(cmake-build COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run_step(cmake-run COMMAND "${WORK_DIR}/build/consumer")
string(STRIP "${step_output}" step_output)
message(STATUS "[cmake-run] ${step_output}")
run_traced_rpc(cmake-traced "${WORK_DIR}/build/traced_rpc")

# 3. pkg-config consumer.
file(GLOB_RECURSE pc_files "${prefix}/rpctrace.pc")
list(LENGTH pc_files n_pc)
if(NOT n_pc EQUAL 1)
  message(FATAL_ERROR "[pkg-config] expected one rpctrace.pc under ${prefix}, found ${n_pc}: ${pc_files}")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)

file(GLOB_RECURSE shared_libs "${prefix}/librpctrace.so")
list(LENGTH shared_libs n_so)
if(NOT n_so EQUAL 1)
  message(FATAL_ERROR "[pkg-config] expected one librpctrace.so under ${prefix}, found ${n_so}: ${shared_libs}")
endif()
get_filename_component(lib_dir "${shared_libs}" DIRECTORY)

find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf)
if(NOT PKG_CONFIG_EXECUTABLE)
  message(FATAL_ERROR "[pkg-config] pkg-config not found (scripts/bootstrap.sh installs it)")
endif()

# Searched before the system's directories, so a system-wide rpctrace.pc
# cannot answer instead (and the system's .pc files stay reachable should
# rpctrace.pc ever require one).
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
# The .pc file carries the prefix the tree was configured with
# (CMAKE_INSTALL_PREFIX), not the scratch prefix we installed into with
# --prefix; relocate it the way a packager's staging test would. libdir and
# includedir must be written relative to ${prefix} for this to work.
run_step(pkg-config COMMAND "${PKG_CONFIG_EXECUTABLE}"
  "--define-variable=prefix=${prefix}" --cflags --libs rpctrace)
string(STRIP "${step_output}" pc_flags)
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")

run_step(pkg-config-compile COMMAND "${c_compiler}" -std=c11 -Wall -Wextra -Werror
  "${SOURCE_DIR}/consumer/consumer.c" ${pc_flags} -o "${WORK_DIR}/consumer_pc")
run_step(pkg-config-run COMMAND "${CMAKE_COMMAND}" -E env "LD_LIBRARY_PATH=${lib_dir}"
  "${WORK_DIR}/consumer_pc")
string(STRIP "${step_output}" step_output)
message(STATUS "[pkg-config-run] ${step_output}")

# 4. The link-time route through pkg-config. rpctrace-wrap.pc must sit next
# to rpctrace.pc (it requires it for the include directory).
if(NOT EXISTS "${pc_dir}/rpctrace-wrap.pc")
  message(FATAL_ERROR "[pkg-config-wrap] no rpctrace-wrap.pc next to ${pc_dir}/rpctrace.pc")
endif()
run_step(pkg-config-wrap COMMAND "${PKG_CONFIG_EXECUTABLE}"
  "--define-variable=prefix=${prefix}" --cflags --libs rpctrace-wrap)
string(STRIP "${step_output}" wrap_flags)
message(STATUS "[pkg-config-wrap] ${wrap_flags}")
separate_arguments(wrap_flags UNIX_COMMAND "${wrap_flags}")
run_step(pkg-config-wrap-compile COMMAND "${c_compiler}" -std=c11 -Wall -Wextra -Werror
  "${SOURCE_DIR}/consumer/traced_rpc.c" ${wrap_flags} -o "${WORK_DIR}/traced_rpc_pc")
# Run without LD_LIBRARY_PATH: the route links the static library, so the
# program must not need the just-installed librpctrace.so.
run_traced_rpc(pkg-config-traced "${WORK_DIR}/traced_rpc_pc")

message(STATUS "install consumer: find_package and pkg-config consumers both work, "
  "and both trace an RPC through the link-time route")
