# ctest unit.install_consumer: the installed package is usable by a program
# outside this tree, through CMake's find_package and through pkg-config.
#
#   cmake -DBUILD_DIR=<configured and built rpctrace tree>
#         -DSOURCE_DIR=<this folder> -DWORK_DIR=<scratch folder, wiped>
#         -P run.cmake
#
# Steps: install BUILD_DIR into WORK_DIR/prefix; configure, build and run
# consumer/ with CMAKE_PREFIX_PATH pointing there; compile consumer.c again
# with `pkg-config --cflags --libs rpctrace` and run it. Any failure stops the
# script with the failing step's output.
cmake_minimum_required(VERSION 3.18)

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

message(STATUS "install consumer: find_package and pkg-config consumers both work")
