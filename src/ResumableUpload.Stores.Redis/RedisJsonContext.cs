using System.Text.Json.Serialization;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.Redis;

/// <summary>The record's JSON form in Redis (source-generated: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UploadRecord))]
internal sealed partial class RedisJsonContext : JsonSerializerContext
{
}
