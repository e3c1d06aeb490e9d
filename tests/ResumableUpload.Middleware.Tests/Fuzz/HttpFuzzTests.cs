using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Fuzz;

/// <summary>
/// Random hostile headers through real HTTP (X-File-Id protocol, tus and the IETF draft on one host): never a 5xx,
/// nothing outside the storage root, and the server still answers afterwards. 3,000 HttpClient requests and 400
/// raw-socket requests per run; multiply with <c>RU_FUZZ_SCALE</c> (see <see cref="FuzzInputs"/>).
/// </summary>
public sealed partial class HttpFuzzTests
{
    [GeneratedRegex(@"^(state/[0-9a-f]{2}/[0-9a-f]{64}\.json|data/[0-9a-f]{2}/[0-9a-f]{64}\.(bin|tmp|part))$")]
    private static partial Regex StoreLayout();

    [Fact]
    public async Task RandomHeaders_NeverA5xx_NeverOutsideTheStore_ServerSurvives()
    {
        var inputs = FuzzInputs.FromEnvironment(11);
        var sandbox = UploadTestHost.CreateTempDirectory();
        var store = Path.Combine(sandbox, "store");
        try
        {
            await using var host = await UploadTestHost.StartAsync(o => o.MaxUploadSize = 1 << 20, storageRoot: store);
            var ids = new List<string> { "0123456789abcdef0123456789abcdef" };
            for (var i = 0; i < 3_000 * FuzzInputs.Scale; i++)
            {
                using var request = RandomRequest(inputs, ids);
                var shown = $"{request.Method} {request.RequestUri} {string.Join("; ", request.Headers.Select(h => h.Key + ": " + FuzzInputs.Show(string.Join(",", h.Value))))}";
                HttpResponseMessage response;
                try
                {
                    response = await host.Client.SendAsync(request);
                }
                catch (HttpRequestException)
                {
                    continue; // the server closed a connection on a refused body: fine, as long as it is not a 5xx
                }

                using (response)
                {
                    if ((int)response.StatusCode >= 500)
                    {
                        Assert.Fail($"seed={inputs.Seed} #{i}: {(int)response.StatusCode} for {shown}: {await response.Content.ReadAsStringAsync()}");
                    }

                    if (response.Headers.Location is { } location && location.ToString().Length >= 32)
                    {
                        ids.Add(location.ToString()[^32..]);
                    }
                }
            }

            for (var i = 0; i < 400 * FuzzInputs.Scale; i++)
            {
                var (text, bytes) = RawRequest(inputs);
                using var tcp = await host.ConnectAsync();
                var stream = tcp.GetStream();
                await stream.WriteAsync(bytes);
                var buffer = new byte[16];
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var read = 0;
                try
                {
                    while (read < 12)
                    {
                        var n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token);
                        if (n == 0)
                        {
                            break;
                        }

                        read += n;
                    }
                }
                catch (IOException)
                {
                }

                if (read >= 12 && buffer[9] == (byte)'5')
                {
                    Assert.Fail($"seed={inputs.Seed} raw #{i}: {Encoding.ASCII.GetString(buffer, 0, 12)} for {FuzzInputs.Show(text)}");
                }
            }

            // The server survived: a normal upload still works end to end.
            var file = Protocol.RandomBytes(5000, inputs.Seed);
            using (var ok = await host.Client.UploadAsync("after-the-fuzz", file, 0, file.Length))
            {
                ((int)ok.StatusCode).Should().Be(200, "seed={0}: the server must still work after the fuzz batch", inputs.Seed);
            }

            (await host.Client.DownloadAsync("after-the-fuzz")).Should().Equal(file);
        }
        finally
        {
            var outside = Directory.EnumerateFileSystemEntries(sandbox, "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(sandbox, p).Replace('\\', '/'))
                .Where(p => p != "store" && !p.StartsWith("store/", StringComparison.Ordinal)).ToArray();
            var odd = Directory.Exists(store)
                ? Directory.EnumerateFiles(store, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(store, p).Replace('\\', '/')).Where(p => !StoreLayout().IsMatch(p)).ToArray()
                : [];
            UploadTestHost.TryDeleteDirectory(sandbox);
            outside.Should().BeEmpty("seed={0}: nothing may be created next to the storage root", inputs.Seed);
            odd.Should().BeEmpty("seed={0}: the store holds only hashed keys", inputs.Seed);
        }
    }

    private static HttpRequestMessage RandomRequest(FuzzInputs f, List<string> ids)
    {
        var id = f.Pick([.. ids]);
        var kind = f.Rng.Next(6);
        var request = kind switch
        {
            0 => new HttpRequestMessage(f.Pick(HttpMethod.Get, HttpMethod.Head), "status"),
            1 => new HttpRequestMessage(HttpMethod.Post, "upload"),
            2 => new HttpRequestMessage(HttpMethod.Get, f.Rng.Next(3) == 0 ? "download?fileId=" + Uri.EscapeDataString(Clean(f.FileId())) : "download"),
            3 => new HttpRequestMessage(HttpMethod.Post, "/"),
            4 => new HttpRequestMessage(f.Pick(HttpMethod.Patch, HttpMethod.Head, HttpMethod.Delete, HttpMethod.Options), "/" + id),
            _ => new HttpRequestMessage(f.Pick(HttpMethod.Post, HttpMethod.Patch), kind == 5 && f.Rng.Next(2) == 0 ? "/" : "/" + id),
        };

        void Maybe(string name, Func<string> value, int percent = 60)
        {
            if (f.Rng.Next(100) < percent)
            {
                request.Headers.TryAddWithoutValidation(name, Clean(value()));
            }
        }

        if (kind <= 2)
        {
            Maybe("X-File-Id", f.FileId, 90);
            Maybe("X-Start-Byte", f.NumberLike, 50);
            Maybe("X-File-Size", f.NumberLike, 50);
        }
        else if (f.Rng.Next(2) == 0)
        {
            Maybe("Tus-Resumable", () => f.Pick("1.0.0", "1.0.0", "0.2.2", f.Any(8)), 85);
            Maybe("Upload-Length", f.NumberLike, 50);
            Maybe("Upload-Offset", f.NumberLike, 50);
            Maybe("Upload-Defer-Length", () => f.Pick("1", "0", f.NumberLike()), 10);
            Maybe("Upload-Metadata", () => f.Pick("filename " + f.Base64Like(), f.Any(), "a,b " + f.Base64Like() + ",a"), 40);
            Maybe("Upload-Checksum", () => f.Pick("sha1 ", "md5 ", "sha256 ", "crc ") + f.Base64Like(), 25);
            Maybe("Upload-Concat", () => f.Pick("partial", "final;/" + f.Pick([.. ids]) + " /" + f.Pick([.. ids]), "final;" + f.Any(), f.Any()), 20);
            Maybe("X-HTTP-Method-Override", () => f.Pick("PATCH", "DELETE", "HEAD", f.Any(6)), 5);
        }
        else
        {
            Maybe("Upload-Draft-Interop-Version", () => f.Pick("3", "4", "5", "6", "7", "8", f.NumberLike(), f.Any(5)), 85);
            Maybe(f.Pick("Upload-Complete", "Upload-Incomplete"), () => f.Pick("?1", "?0", f.Mutate("?1"), f.Any(4)), 70);
            Maybe("Upload-Offset", f.NumberLike, 50);
            Maybe("Upload-Length", f.NumberLike, 30);
            Maybe("Content-Digest", () => f.Pick("sha-256=:", "sha-512=:", "md5=:") + f.Base64Like() + f.Pick(":", ""), 25);
            Maybe("Repr-Digest", () => "sha-256=:" + f.Base64Like() + ":", 10);
        }

        if (request.Method == HttpMethod.Post || request.Method == HttpMethod.Patch)
        {
            var body = new byte[f.Rng.Next(4) == 0 ? 0 : f.Rng.Next(1, 3000)];
            f.Rng.NextBytes(body);
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", f.Pick("application/offset+octet-stream", "application/partial-upload", "application/octet-stream", Clean(f.Any(10))));
            if (f.Rng.Next(5) == 0)
            {
                request.Headers.TransferEncodingChunked = true;
            }
        }

        return request;
    }

    /// <summary>HttpClient refuses CR, LF and NUL in a header value (the raw-socket part sends those).</summary>
    private static string Clean(string value) => string.Concat(value.Where(c => c is not ('\r' or '\n' or '\0')));

    /// <summary>Bytes HttpClient will not send: invalid UTF-8, Latin-1, NUL and other controls in header values.</summary>
    private static (string Text, byte[] Bytes) RawRequest(FuzzInputs f)
    {
        var head = new List<byte>();
        var target = f.Pick("/status", "/upload", "/download", "/", "/0123456789abcdef0123456789abcdef");
        var method = target == "/upload" || target == "/" ? "POST" : f.Pick("GET", "HEAD", "PATCH");
        head.AddRange(Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"));
        foreach (var name in new[] { "X-File-Id", "X-Start-Byte", "X-File-Size", "Tus-Resumable", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Draft-Interop-Version", "Upload-Complete", "Content-Digest" })
        {
            if (f.Rng.Next(3) != 0 && name != "X-File-Id")
            {
                continue;
            }

            head.AddRange(Encoding.ASCII.GetBytes(name + ": "));
            var length = f.Rng.Next(0, 40);
            for (var i = 0; i < length; i++)
            {
                var b = f.Rng.Next(4) == 0 ? (byte)f.Rng.Next(0x80, 0x100) : f.Rng.Next(10) == 0 ? (byte)f.Rng.Next(0, 0x20) : (byte)f.Rng.Next(0x20, 0x7F);
                head.Add(b is (byte)'\r' or (byte)'\n' ? (byte)'x' : b);
            }

            head.AddRange("\r\n"u8.ToArray());
        }

        var body = method is "POST" or "PATCH" ? f.Rng.Next(0, 100) : 0;
        head.AddRange(Encoding.ASCII.GetBytes($"Content-Length: {body}\r\n\r\n"));
        head.AddRange(new byte[body]);
        var bytes = head.ToArray();
        return (Encoding.Latin1.GetString(bytes), bytes);
    }
}
