// Writes: bare `location` through the stand-in's href; `X.location = v` through __cb$set.
location = "/next";
location.href = "https://example.com/x";
location += "#top";
location.hash = "#a";
window.location = url;
document.location = url;
top["location"] = url;
obj.location = { pathname: "/" };
window.location.href = url;
location.assign("https://example.com/a");
location.replace(u);
location.reload();
