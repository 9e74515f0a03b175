// expect: trio::run_per_core: main cannot be called with these arguments
#include <trio/runner_group.hpp>

#include <string>

trio::task<> serve(int port) { co_return; }

int main() { trio::run_per_core(serve, std::string("8080")); }
