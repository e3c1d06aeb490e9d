using System.Text.Json.Serialization;

namespace ResumableUpload.Middleware.Storage;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(UploadRecord))]
internal sealed partial class StoreJsonContext : JsonSerializerContext
{
}
