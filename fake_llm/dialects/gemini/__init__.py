"""Google Gemini generateContent and streamGenerateContent."""
