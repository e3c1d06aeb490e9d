using System.Globalization;
using System.Net;
using ResumableUpload.Middleware;

// The benchmark server. Usage:
//   ResumableUpload.Benchmarks.Host --kind baseline|middleware --port N --dir PATH
//                                   [--durability flush|fsync] [--publish-interval BYTES]
// Prints "ready" on stdout once Kestrel listens. Every kind runs the same Kestrel settings, so the only difference
// between a baseline and the middleware is what happens to the body.
var kind = Arg("--kind") ?? "middleware";
var port = int.Parse(Arg("--port") ?? "5090", CultureInfo.InvariantCulture);
var dir = Path.GetFullPath(Arg("--dir") ?? Path.Combine(Path.GetTempPath(), "ru-bench-host"));
Directory.CreateDirectory(dir);

var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = dir });
builder.Logging.ClearProviders();
builder.WebHost.UseKestrel(o =>
{
    o.Listen(IPAddress.Loopback, port);
    o.AddServerHeader = false;
    o.Limits.MaxRequestBodySize = null; // the middleware sets its own per-request limit; the baselines take anything
});

if (kind == "middleware")
{
    var durability = string.Equals(Arg("--durability"), "fsync", StringComparison.OrdinalIgnoreCase) ? UploadDurability.FSync : UploadDurability.Flush;
    var publishInterval = Arg("--publish-interval") is { } p ? int.Parse(p, CultureInfo.InvariantCulture) : (int?)null;
    builder.Services.AddResumableUploads(o =>
    {
        o.MaxUploadSize = 8L << 30;
        o.Durability = durability;
        o.EnableDownload = true;
        if (publishInterval is int interval)
        {
            o.ProgressPublishInterval = interval;
        }
    }).AddFileSystemStores(dir);
}
else if (kind != "baseline")
{
    Console.Error.WriteLine($"unknown --kind {kind}: baseline or middleware");
    return 2;
}

var app = builder.Build();
if (kind == "middleware")
{
    app.UseResumableUploads("/files");
}
else
{
    app.MapMethods("/constant", ["GET", "HEAD"], (HttpContext context) =>
    {
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = 1;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.Body.WriteAsync("0"u8.ToArray()).AsTask();
    });
    app.MapPost("/discard", async (HttpContext context) =>
    {
        var body = context.Request.BodyReader;
        while (true)
        {
            var result = await body.ReadAsync(context.RequestAborted);
            body.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        return Results.Ok();
    });
    // What a plain app does to store a body: a FileStream and CopyToAsync.
    app.MapPost("/file/{name:int}", async (HttpContext context, int name) =>
    {
        var path = Path.Combine(dir, name.ToString(CultureInfo.InvariantCulture) + ".bin");
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        await using (file)
        {
            await context.Request.Body.CopyToAsync(file, context.RequestAborted);
            file.Flush(flushToDisk: false);
        }

        return Results.Ok();
    });
}

await app.StartAsync();
Console.WriteLine("ready");
await app.WaitForShutdownAsync();
return 0;

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
