// Inside `with`, reads are still safe to wrap (non-Location values pass through); bare writes
// are left to the runtime's navigate fallback since `location` may name the object's own.
with (scope) {
  location.href;
  location = "/x";
  location.hash = "#y";
}
