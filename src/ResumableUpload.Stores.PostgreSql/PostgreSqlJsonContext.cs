using System.Text.Json.Serialization;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>The JSON columns of the records table: metadata (an object of strings) and parts (arrays of strings).</summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class PostgreSqlJsonContext : JsonSerializerContext
{
}
