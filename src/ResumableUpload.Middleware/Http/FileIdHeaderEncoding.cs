using System.Text;
using System.Text.Unicode;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace ResumableUpload.Middleware.Http;

/// <summary>
/// Decodes an <c>X-File-Id</c> header value as UTF-8 when its bytes are valid UTF-8, otherwise as Latin-1.
/// Browsers send a JavaScript header value byte for byte (a file named <c>café.txt</c> arrives with the single byte
/// 0xE9), which Kestrel refuses by default; other clients send UTF-8. Either way the id becomes the same string, and
/// ids are then compared byte-exact.
/// </summary>
internal sealed class FileIdHeaderEncoding : Encoding
{
    public static readonly FileIdHeaderEncoding Instance = new();

    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private FileIdHeaderEncoding()
    {
    }

    public override int GetByteCount(char[] chars, int index, int count) => StrictUtf8.GetByteCount(chars, index, count);

    public override int GetBytes(char[] chars, int charIndex, int charCount, byte[] bytes, int byteIndex)
        => StrictUtf8.GetBytes(chars, charIndex, charCount, bytes, byteIndex);

    public override int GetCharCount(byte[] bytes, int index, int count) => GetCharCount(bytes.AsSpan(index, count));

    public override int GetCharCount(ReadOnlySpan<byte> bytes) => Pick(bytes).GetCharCount(bytes);

    public override int GetChars(byte[] bytes, int byteIndex, int byteCount, char[] chars, int charIndex)
        => GetChars(bytes.AsSpan(byteIndex, byteCount), chars.AsSpan(charIndex));

    public override int GetChars(ReadOnlySpan<byte> bytes, Span<char> chars) => Pick(bytes).GetChars(bytes, chars);

    public override string GetString(byte[] bytes, int index, int count) => Pick(bytes.AsSpan(index, count)).GetString(bytes, index, count);

    public override int GetMaxByteCount(int charCount) => StrictUtf8.GetMaxByteCount(charCount);

    public override int GetMaxCharCount(int byteCount) => byteCount;

    private static Encoding Pick(ReadOnlySpan<byte> bytes) => Utf8.IsValid(bytes) ? StrictUtf8 : Latin1;
}

/// <summary>Lets Kestrel accept <c>X-File-Id</c> values as UTF-8 or Latin-1, keeping any selector the host set for other headers.</summary>
internal sealed class FileIdHeaderKestrelSetup : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions options)
    {
        var previous = options.RequestHeaderEncodingSelector;
        options.RequestHeaderEncodingSelector = name =>
            previous?.Invoke(name) ?? (string.Equals(name, UploadHeaders.FileId, StringComparison.OrdinalIgnoreCase) ? FileIdHeaderEncoding.Instance : null);
    }
}
