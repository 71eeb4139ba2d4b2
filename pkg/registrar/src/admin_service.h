// The admin gRPC API (proto/vnfpool/v1/registrar.proto) of a registrar. gRPC's synchronous server runs
// the calls on its own threads; each call hops onto the registrar's loop for the state it reads or
// changes, and waits for the answer there.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

namespace grpc {
class Server;
}

namespace vnfpool::registrar {

class Registrar;
class AdminServiceImpl;

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& loop, Registrar& registrar);
  ~AdminServer();

  /// Listens on `address` ("127.0.0.1:0"); returns the bound "host:port", or nullopt if it cannot.
  std::optional<std::string> start(const std::string& address);
  /// Ends every call (watch streams included) and stops the server. Callable from the loop thread: calls
  /// waiting for the loop give up at once instead of waiting for it.
  void stop();

 private:
  std::atomic<bool> stopping_{false};
  std::unique_ptr<AdminServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace vnfpool::registrar
