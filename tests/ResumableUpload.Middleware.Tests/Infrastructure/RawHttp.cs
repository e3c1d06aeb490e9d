using System.Net.Sockets;
using System.Text;

namespace ResumableUpload.Middleware.Tests.Infrastructure;

/// <summary>Hand-written HTTP/1.1 for what HttpClient cannot do: cut a body short, send odd bytes, keep a body open.</summary>
public static class RawHttp
{
    public static async Task WriteHeadAsync(NetworkStream stream, string method, string path, params (string Name, string Value)[] headers)
    {
        var builder = new StringBuilder();
        builder.Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        foreach (var (name, value) in headers)
        {
            builder.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        builder.Append("\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(builder.ToString()));
        await stream.FlushAsync();
    }

    /// <summary>Reads until the end of the response head and returns the status code (enough for the tests' checks).</summary>
    public static async Task<int> ReadStatusCodeAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        var received = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                break;
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }

        var text = received.ToString();
        text.Should().StartWith("HTTP/1.1 ", "a response head was expected, got: {0}", text);
        return int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Reads until the server closes the connection (true) or 30 seconds pass (false).</summary>
    public static async Task<bool> ReadToEndOrClosedAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
