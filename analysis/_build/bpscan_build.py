"""PEP 517 build backend of bpscan_analysis: setuptools, offline.

pip builds a package in an isolated environment into which it first installs the build
requirements from an index. PyPI is unreachable where bpscan runs, so pyproject.toml
requires nothing and names this in-tree backend instead. It is setuptools.build_meta,
imported from the Python that runs pip (Debian 12: python3-setuptools and python3-wheel,
dependencies of python3-pip), whose site directories pip's isolation hides: they are put
back on sys.path. Nothing is downloaded; without setuptools the error says what to install.
"""
import site
import sys


def _build_meta():
    try:
        from setuptools import build_meta
        return build_meta
    except ImportError:
        pass
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    for d in dirs:
        if d not in sys.path:
            sys.path.append(d)
    try:
        from setuptools import build_meta
    except ImportError:
        raise ImportError("bpscan_analysis is built with the setuptools of the Python that runs "
                          "pip, and %s has none (Debian: apt-get install python3-setuptools "
                          "python3-wheel)" % sys.executable) from None
    return build_meta


_meta = _build_meta()


def get_requires_for_build_wheel(config_settings=None):
    return []           # setuptools and wheel come from the running Python, not an index


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


build_wheel = _meta.build_wheel
build_sdist = _meta.build_sdist
prepare_metadata_for_build_wheel = _meta.prepare_metadata_for_build_wheel
build_editable = getattr(_meta, "build_editable", None)
prepare_metadata_for_build_editable = getattr(_meta, "prepare_metadata_for_build_editable", None)
if build_editable is None:      # setuptools < 64: no PEP 660 editable installs
    del build_editable, prepare_metadata_for_build_editable, get_requires_for_build_editable
