#pragma once
/// \file
/// trio-cpp: Trio's structured concurrency for C++20 coroutines on io_uring. Include this header.

// Foundations: time, errors, the coroutine type
#include "trio/clock.hpp"
#include "trio/errors.hpp"
#include "trio/task.hpp"

// Core: the loop, the blocking primitive, introspection, metrics, instruments
#include "trio/format_prometheus.hpp"
#include "trio/instrument.hpp"
#include "trio/lowlevel.hpp"
#include "trio/trace.hpp"

// Structure: checkpoints, cancel scopes, time, nurseries, timeouts, running
#include "trio/cancel_scope.hpp"
#include "trio/checkpoint.hpp"
#include "trio/nursery.hpp"
#include "trio/run.hpp"
#include "trio/sleep.hpp"
#include "trio/timeouts.hpp"

// Synchronisation and channels
#include "trio/channel.hpp"
#include "trio/sync.hpp"

// I/O: readiness, sockets, streams, networking
#include "trio/file.hpp"
#include "trio/line_reader.hpp"
#include "trio/net.hpp"
#include "trio/pipe_stream.hpp"
#include "trio/process.hpp"
#include "trio/socket.hpp"
#include "trio/socket_stream.hpp"
#include "trio/stream.hpp"
#include "trio/wait_fd.hpp"

// System: threads and signals
#include "trio/from_thread.hpp"
#include "trio/signal.hpp"
#include "trio/to_thread.hpp"

// Several loops: one runner per core, and the channel between them
#include "trio/runner_group.hpp"
#include "trio/shared_channel.hpp"
