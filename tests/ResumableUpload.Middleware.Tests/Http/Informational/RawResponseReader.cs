using System.Globalization;
using System.Text;

namespace ResumableUpload.Middleware.Tests.Http.Informational;

/// <summary>One response head as it came off the wire.</summary>
public sealed record RawHead(int StatusCode, string StatusLine, IReadOnlyList<KeyValuePair<string, string>> Headers, string Text)
{
    public string? Header(string name) => Headers.LastOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public int ContentLength => int.Parse(Header("Content-Length") ?? "0", CultureInfo.InvariantCulture);
}

/// <summary>Reads HTTP/1.1 responses (1xx heads included) off a stream, byte-exact, for order and framing checks.</summary>
public sealed class RawResponseReader(Stream stream)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    public async Task<RawHead> ReadHeadAsync()
    {
        while (true)
        {
            var index = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (index >= 0)
            {
                var text = Encoding.Latin1.GetString(_buffer, _start, index + 4);
                _start += index + 4;
                return Parse(text);
            }

            if (!await FillAsync(Timeout))
            {
                throw new EndOfStreamException($"The connection ended inside a response head: {Encoding.Latin1.GetString(_buffer, _start, _end - _start)}");
            }
        }
    }

    public async Task<byte[]> ReadBodyAsync(int length)
    {
        var body = new byte[length];
        var copied = 0;
        while (copied < length)
        {
            if (_start == _end && !await FillAsync(Timeout))
            {
                throw new EndOfStreamException($"The connection ended after {copied} of {length} body bytes.");
            }

            var n = Math.Min(length - copied, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(body.AsSpan(copied));
            _start += n;
            copied += n;
        }

        return body;
    }

    /// <summary>A head and the Content-Length body that follows it.</summary>
    public async Task<(RawHead Head, byte[] Body)> ReadResponseAsync()
    {
        var head = await ReadHeadAsync();
        return (head, await ReadBodyAsync(head.ContentLength));
    }

    /// <summary>Whatever arrives within <paramref name="wait"/> (empty when nothing does, or the connection ends).</summary>
    public async Task<string> ReadExtraAsync(TimeSpan wait)
    {
        if (_start == _end)
        {
            try
            {
                await FillAsync(wait);
            }
            catch (OperationCanceledException)
            {
            }
        }

        var extra = Encoding.Latin1.GetString(_buffer, _start, _end - _start);
        _start = _end;
        return extra;
    }

    private async Task<bool> FillAsync(TimeSpan wait)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        using var timeout = new CancellationTokenSource(wait);
        var read = await stream.ReadAsync(_buffer.AsMemory(_end), timeout.Token);
        _end += read;
        return read > 0;
    }

    private static RawHead Parse(string text)
    {
        var lines = text[..^4].Split("\r\n");
        lines[0].Should().MatchRegex(@"^HTTP/1\.1 \d{3} ", "a status line was expected, got: {0}", text);
        var status = int.Parse(lines[0].AsSpan(9, 3), CultureInfo.InvariantCulture);
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            colon.Should().BePositive("every header line has a name and a colon, got: {0}", text);
            headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
        }

        return new RawHead(status, lines[0], headers, text);
    }
}
