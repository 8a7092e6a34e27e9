"""The OpenAI family: chat, Responses, completions, embeddings, and the Azure and Scale variants."""
