# Finds every external library bpscan uses and folds them into one interface
# target, bps::deps. Each failure names the Debian package that provides it
# (cmake/setup.sh installs them all).
find_package(PkgConfig)

# bps_require("VAR1;VAR2" "debian-package" "what"): fail unless every VAR is true.
function(bps_require vars pkg what)
  foreach(v IN LISTS vars)
    if(NOT ${v})
      message(FATAL_ERROR "bpscan: ${what} not found (${v}). On Debian 12: apt-get install ${pkg}")
    endif()
  endforeach()
endfunction()

find_package(MPI COMPONENTS C)
bps_require(MPI_C_FOUND "libopenmpi-dev openmpi-bin" "MPI (C bindings)")

find_package(OpenMP COMPONENTS C)
bps_require(OpenMP_C_FOUND "libgomp1 (part of gcc)" "OpenMP")

# Parallel HDF5: prefer it over a serial install and refuse a serial-only one.
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 COMPONENTS C)
bps_require(HDF5_FOUND "libhdf5-openmpi-dev hdf5-tools" "HDF5")
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "bpscan: only a serial HDF5 was found (${HDF5_C_LIBRARIES}); "
          "bpscan needs parallel HDF5. On Debian 12: apt-get install libhdf5-openmpi-dev "
          "and reconfigure in a fresh build directory (the HDF5 choice is cached).")
endif()

if(PkgConfig_FOUND)
  pkg_check_modules(FFTW3 QUIET fftw3)
endif()
find_path(FFTW3_INCLUDE fftw3.h HINTS ${FFTW3_INCLUDE_DIRS})
find_library(FFTW3_LIB fftw3 HINTS ${FFTW3_LIBRARY_DIRS})
find_library(FFTW3_OMP_LIB fftw3_omp HINTS ${FFTW3_LIBRARY_DIRS})
bps_require("FFTW3_INCLUDE;FFTW3_LIB" "libfftw3-dev" "FFTW3")
bps_require("FFTW3_OMP_LIB" "libfftw3-dev" "FFTW3 OpenMP library (fftw3_omp)")

find_library(OPENBLAS_LIB openblas)
bps_require("OPENBLAS_LIB" "libopenblas-openmp-dev" "OpenBLAS")
find_path(CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas openblas-openmp)
bps_require("CBLAS_INCLUDE" "libopenblas-openmp-dev" "cblas.h")
find_path(LAPACKE_INCLUDE lapacke.h)
find_library(LAPACKE_LIB lapacke)
bps_require("LAPACKE_INCLUDE;LAPACKE_LIB" "liblapacke-dev" "LAPACKE")

find_path(RANDOM123_INCLUDE Random123/philox.h)
bps_require("RANDOM123_INCLUDE" "librandom123-dev" "Random123 (Philox)")

if(PkgConfig_FOUND)
  pkg_check_modules(INIH QUIET inih)
endif()
find_path(INIH_INCLUDE ini.h HINTS ${INIH_INCLUDE_DIRS})
find_library(INIH_LIB inih HINTS ${INIH_LIBRARY_DIRS})
bps_require("INIH_INCLUDE;INIH_LIB" "libinih-dev" "inih (INI parser)")

# zlib: h5io.c encodes the chunks of its deflate-compressed datasets itself (zlib1g-dev,
# installed with libhdf5-dev).
find_package(ZLIB)
bps_require(ZLIB_FOUND "zlib1g-dev" "zlib")

add_library(bps_deps INTERFACE)
add_library(bps::deps ALIAS bps_deps)
target_include_directories(bps_deps INTERFACE ${HDF5_C_INCLUDE_DIRS} ${FFTW3_INCLUDE}
  ${CBLAS_INCLUDE} ${LAPACKE_INCLUDE} ${RANDOM123_INCLUDE} ${INIH_INCLUDE})
target_compile_definitions(bps_deps INTERFACE ${HDF5_C_DEFINITIONS} _DEFAULT_SOURCE)
target_link_libraries(bps_deps INTERFACE MPI::MPI_C OpenMP::OpenMP_C ${HDF5_C_LIBRARIES}
  ${FFTW3_OMP_LIB} ${FFTW3_LIB} ${LAPACKE_LIB} ${OPENBLAS_LIB} ${INIH_LIB} ZLIB::ZLIB)
message(STATUS "bpscan: MPI ${MPI_C_VERSION}, HDF5 ${HDF5_VERSION} (parallel), OpenBLAS ${OPENBLAS_LIB}")
