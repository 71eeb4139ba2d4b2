// A command-line client of the sidecar's local gRPC API, for sidecar_test.py (Python has no gRPC package in
// our Debian set). Prints each answer as one JSON line (protobuf's JSON mapping); exits 1 with the gRPC
// status on stderr when a call fails, 2 on bad usage.
//
//   sidecar_api_client ADDRESS status
//   sidecar_api_client ADDRESS update POOL PE_ID [load=P] [weight=W] [priority=N] [degradation=P]
//   sidecar_api_client ADDRESS register POOL PORT [POLICY [LOAD]]
//   sidecar_api_client ADDRESS deregister POOL PE_ID
//   sidecar_api_client ADDRESS resolve POOL [ITEMS]
//   sidecar_api_client ADDRESS unreachable POOL PE_ID
//   sidecar_api_client ADDRESS watch POOL COUNT [INTERVAL_MS]     (prints COUNT updates, then cancels)
//   sidecar_api_client ADDRESS health                              (grpc.health.v1 Check of the sidecar)
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <string>
#include <vector>

#include "vnfpool/v1/sidecar.grpc.pb.h"

namespace {

namespace pb = vnfpool::v1;

void print(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, o);
  std::cout << json << std::endl;
}

int failed(const grpc::Status& s) {
  std::cerr << "grpc error " << static_cast<int>(s.error_code()) << ": " << s.error_message() << "\n";
  return 1;
}

std::unique_ptr<grpc::ClientContext> context(int seconds = 20) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() < 2) {
    std::cerr << "usage: sidecar_api_client ADDRESS COMMAND ARGS...\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(a[0], grpc::InsecureChannelCredentials());
  auto stub = pb::Sidecar::NewStub(channel);
  const std::string& cmd = a[1];
  try {
    if (cmd == "status") {
      pb::SidecarStatus out;
      auto s = stub->GetStatus(context().get(), pb::GetStatusRequest{}, &out);
      if (!s.ok()) return failed(s);
      print(out);
    } else if (cmd == "update" && a.size() >= 4) {
      pb::UpdatePolicyRequest in;
      in.set_pool_handle(a[2]);
      in.set_pe_id(std::stoull(a[3], nullptr, 0));
      for (std::size_t i = 4; i < a.size(); ++i) {
        const auto eq = a[i].find('=');
        const std::string key = a[i].substr(0, eq), value = eq == std::string::npos ? "" : a[i].substr(eq + 1);
        if (key == "load") in.set_load_percent(std::stod(value));
        else if (key == "weight") in.set_weight(static_cast<std::uint32_t>(std::stoul(value)));
        else if (key == "priority") in.set_priority(static_cast<std::uint32_t>(std::stoul(value)));
        else if (key == "degradation") in.set_load_degradation_percent(std::stod(value));
        else return 2;
      }
      pb::UpdatePolicyResponse out;
      auto s = stub->UpdatePolicy(context().get(), in, &out);
      if (!s.ok()) return failed(s);
      print(out);
    } else if (cmd == "register" && a.size() >= 4) {
      pb::RegisterHandleRequest in;
      in.set_pool_handle(a[2]);
      in.set_port(static_cast<std::uint32_t>(std::stoul(a[3])));
      if (a.size() >= 5) in.mutable_policy()->set_type(a[4]);
      if (a.size() >= 6) in.mutable_policy()->set_load_percent(std::stod(a[5]));
      pb::RegisterHandleResponse out;
      auto s = stub->RegisterHandle(context().get(), in, &out);
      if (!s.ok()) return failed(s);
      print(out);
    } else if (cmd == "deregister" && a.size() == 4) {
      pb::DeregisterHandleRequest in;
      in.set_pool_handle(a[2]);
      in.set_pe_id(std::stoull(a[3], nullptr, 0));
      pb::DeregisterHandleResponse out;
      auto s = stub->DeregisterHandle(context().get(), in, &out);
      if (!s.ok()) return failed(s);
      print(out);
    } else if (cmd == "resolve" && a.size() >= 3) {
      pb::ResolveRequest in;
      in.set_pool_handle(a[2]);
      if (a.size() >= 4) in.set_items(static_cast<std::uint32_t>(std::stoul(a[3])));
      pb::ResolveResponse out;
      auto s = stub->Resolve(context().get(), in, &out);
      if (!s.ok()) return failed(s);
      print(out);
    } else if (cmd == "unreachable" && a.size() == 4) {
      pb::ReportUnreachableRequest in;
      in.set_pool_handle(a[2]);
      in.set_pe_id(std::stoull(a[3], nullptr, 0));
      pb::ReportUnreachableResponse out;
      auto s = stub->ReportUnreachable(context().get(), in, &out);
      if (!s.ok()) return failed(s);
      print(out);
    } else if (cmd == "watch" && a.size() >= 4) {
      pb::WatchRequest in;
      in.set_pool_handle(a[2]);
      if (a.size() >= 5) in.set_interval_ms(static_cast<std::uint32_t>(std::stoul(a[4])));
      const auto count = std::stoul(a[3]);
      auto ctx = context(60);
      auto reader = stub->Watch(ctx.get(), in);
      pb::PoolMembers m;
      std::size_t seen = 0;
      while (seen < count && reader->Read(&m)) {
        print(m);
        ++seen;
      }
      ctx->TryCancel();
      auto s = reader->Finish();
      if (seen < count) return failed(s.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN, "stream ended early") : s);
    } else if (cmd == "health") {
      // grpc.health.v1.Health/Check with an empty request; the answer's field 1 is the status (1 = SERVING).
      grpc::GenericStub generic(channel);
      grpc::Slice empty("");
      grpc::ByteBuffer request(&empty, 1), response;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::CompletionQueue cq;
      auto call = generic.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
      call->StartCall();
      grpc::Status s;
      call->Finish(&response, &s, reinterpret_cast<void*>(1));
      void* tag = nullptr;
      bool ok = false;
      cq.Next(&tag, &ok);
      if (!s.ok()) return failed(s);
      std::vector<grpc::Slice> slices;
      std::string body;
      (void)response.Dump(&slices);
      for (const auto& slice : slices) body.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      std::cout << "{\"status\":" << (body.size() >= 2 && body[0] == '\x08' ? static_cast<int>(body[1]) : 0) << "}" << std::endl;
    } else {
      std::cerr << "sidecar_api_client: unknown command or wrong arguments: " << cmd << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "sidecar_api_client: bad argument: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
