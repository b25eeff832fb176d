"""The container engine behind one small typed seam.

:mod:`mppoci.engine.protocol` says what mppoci asks of an engine;
:mod:`mppoci.engine.docker_engine` is the one module that imports the
``docker`` package and maps its errors to mppoci's."""
