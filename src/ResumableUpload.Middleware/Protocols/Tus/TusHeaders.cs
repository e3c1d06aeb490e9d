using System.Text;
using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Protocols.XFileId;

namespace ResumableUpload.Middleware.Protocols.Tus;

/// <summary>The header names and strict parsers of tus 1.0.0.</summary>
internal static class TusHeaders
{
    public const string Version = "1.0.0";
    public const string TusResumable = "Tus-Resumable";
    public const string TusVersion = "Tus-Version";
    public const string TusExtension = "Tus-Extension";
    public const string TusMaxSize = "Tus-Max-Size";
    public const string TusChecksumAlgorithm = "Tus-Checksum-Algorithm";
    public const string UploadOffset = "Upload-Offset";
    public const string UploadLength = "Upload-Length";
    public const string UploadDeferLength = "Upload-Defer-Length";
    public const string UploadMetadata = "Upload-Metadata";
    public const string UploadExpires = "Upload-Expires";
    public const string UploadConcat = "Upload-Concat";
    public const string UploadChecksum = "Upload-Checksum";
    public const string MethodOverride = "X-HTTP-Method-Override";
    public const string OffsetOctetStream = "application/offset+octet-stream";

    /// <summary>Reads a single non-negative decimal header (the same grammar as the X-File-Id protocol's numbers).</summary>
    public static long? ReadNumber(HttpRequest request, string header) => XFileIdHeaders.ReadOptionalNumber(request, header);

    /// <summary>
    /// "The Upload-Metadata request and response header MUST consist of one or more comma-separated key-value pairs.
    /// The key and value MUST be separated by a space. The key MUST NOT contain spaces and commas and MUST NOT be
    /// empty. The key SHOULD be ASCII encoded and the value MUST be Base64 encoded. All keys MUST be unique. The
    /// value MAY be empty. In these cases, the space, which would normally separate the key and the value, MAY be
    /// left out." Values are decoded as UTF-8.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(HttpRequest request)
    {
        var values = request.Headers[UploadMetadata];
        if (values.Count == 0)
        {
            return Storage.UploadRecord.EmptyMetadata;
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var decoder = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var value in values)
        {
            foreach (var rawPair in (value ?? string.Empty).Split(','))
            {
                var pair = rawPair.Trim();
                if (pair.Length == 0)
                {
                    throw Invalid(UploadMetadata, "Upload-Metadata has an empty key-value pair.");
                }

                var space = pair.IndexOf(' ', StringComparison.Ordinal);
                var key = space < 0 ? pair : pair[..space];
                var encoded = space < 0 ? string.Empty : pair[(space + 1)..];
                if (key.Length == 0 || encoded.Contains(' ', StringComparison.Ordinal))
                {
                    throw Invalid(UploadMetadata, "Upload-Metadata pairs are a key, a space and a Base64 value.");
                }

                string decoded;
                try
                {
                    decoded = decoder.GetString(Convert.FromBase64String(encoded));
                }
                catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
                {
                    throw Invalid(UploadMetadata, $"The Upload-Metadata value of '{key}' is not Base64-encoded UTF-8.");
                }

                if (!metadata.TryAdd(key, decoded))
                {
                    throw Invalid(UploadMetadata, $"The Upload-Metadata key '{key}' appears twice.");
                }
            }
        }

        return metadata;
    }

    public static string FormatMetadata(IReadOnlyDictionary<string, string> metadata)
        => string.Join(',', metadata.Select(pair => pair.Value.Length == 0 ? pair.Key : pair.Key + " " + Convert.ToBase64String(Encoding.UTF8.GetBytes(pair.Value))));

    /// <summary>Parses <c>Upload-Checksum: &lt;algorithm&gt; &lt;Base64 digest&gt;</c>.</summary>
    public static (string Algorithm, byte[] Digest) ParseChecksum(string value)
    {
        var space = value.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0)
        {
            throw Invalid(UploadChecksum, "Upload-Checksum is an algorithm name, a space and a Base64 digest.");
        }

        var algorithm = value[..space];
        if (!ChunkChecksum.TryGetAlgorithm(algorithm, out _))
        {
            throw Invalid(UploadChecksum, $"The checksum algorithm '{algorithm}' is not supported; use one of {string.Join(", ", ChunkChecksum.SupportedNames)}.");
        }

        try
        {
            return (algorithm, Convert.FromBase64String(value[(space + 1)..].Trim()));
        }
        catch (FormatException)
        {
            throw Invalid(UploadChecksum, "The Upload-Checksum digest is not Base64.");
        }
    }

    public static UploadException Invalid(string header, string detail) => new(UploadError.InvalidHeader, detail) { Header = header };
}
